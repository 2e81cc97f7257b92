"""Errors raised by the accounts services; views turn them into form errors."""


class AccountsError(Exception):
    """Base class: the message is safe to show to the person who made the request."""


class CardNotUsable(AccountsError):
    pass


class AuthenticationFailed(AccountsError):
    """Unknown card or wrong PIN: one generic message for both, so neither leaks."""

    def __init__(self, message: str = "Card number or PIN is not correct.", *, tries_left: int | None = None) -> None:
        super().__init__(message)
        # Wrong PINs the card still takes before it is blocked; None when there is no card to count on.
        self.tries_left = tries_left


class CardBlocked(AccountsError):
    def __init__(self, message: str = "This card is blocked. Please contact your bank.") -> None:
        super().__init__(message)


class CardJustBlocked(CardBlocked):
    """The wrong PIN just entered was the last one allowed."""

    def __init__(
        self, message: str = "Wrong PIN entered three times: this card is now blocked. Please contact your bank."
    ) -> None:
        super().__init__(message)


class PinRejected(AccountsError):
    pass
