"""Errors raised by the ledger services. Each message is safe to show to the customer or teller."""


class TransactionError(Exception):
    """Base class: nothing was written when one of these is raised."""


class InvalidAmount(TransactionError):
    pass


class InsufficientFunds(TransactionError):
    def __init__(self, message: str = "Insufficient funds for this amount.") -> None:
        super().__init__(message)


class DailyLimitExceeded(TransactionError):
    pass


class AccountNotUsable(TransactionError):
    pass


class AccountNotFound(TransactionError):
    """No transfer can go to this account: unknown, not open or in another currency (one message for all)."""

    def __init__(
        self, message: str = "Money cannot be transferred to this account number. Check it and try again."
    ) -> None:
        super().__init__(message)


class SameAccountTransfer(TransactionError):
    def __init__(self, message: str = "You cannot transfer money to the same account.") -> None:
        super().__init__(message)


class IdempotencyConflict(TransactionError):
    def __init__(self, message: str = "This request key was already used for a different operation.") -> None:
        super().__init__(message)


class LedgerImmutable(TransactionError):
    def __init__(self, message: str = "Ledger entries are append-only: post a compensating entry instead.") -> None:
        super().__init__(message)


class ApprovalError(TransactionError):
    """A four-eyes rule refused the request: the message says which."""
