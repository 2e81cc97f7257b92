"""Drive a Django admin changelist action the way the action dropdown and its intermediate page do."""

from __future__ import annotations

import uuid

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME


def action_choose(client, url, action, *pks):  # type: ignore[no-untyped-def]
    """Pick an action on the changelist for the rows `pks`; return its (intermediate) page."""
    return client.post(url, {"action": action, "index": "0", ACTION_CHECKBOX_NAME: [str(pk) for pk in pks]})


def action_apply(client, url, action, *pks, **fields):  # type: ignore[no-untyped-def]
    """Submit an action's intermediate page with `fields` and a fresh one-time request key."""
    data = {"action": action, "apply": "1", ACTION_CHECKBOX_NAME: [str(pk) for pk in pks],
            "request_key": str(uuid.uuid4()), **fields}
    return client.post(url, data)
