"""Schemathesis hooks for the Clients API run (tests/tests/schemathesis.rs).

Loaded through SCHEMATHESIS_HOOKS.
"""

import schemathesis
from schemathesis import GenerationMode


@schemathesis.hook
def filter_case(context, case):
    """Leave out positive `GET /clients` cases that carry a made-up `cursor`.

    A cursor is valid only when this API issued it for the caller's
    organization and the same list (it carries a checksum): any other string,
    however well-formed, is rightly refused with 400 naming `cursor`, which
    `positive_data_acceptance` would report. Negative cases keep their cursors
    (a refused cursor is what they expect), and real cursors are tested by
    tests/tests/listing.rs.
    """
    if case.operation.label != "GET /clients" or case.meta is None:
        return True
    if case.meta.generation.mode != GenerationMode.POSITIVE:
        return True
    return "cursor" not in (case.query or {})


# Clients whose create was answered as a replay (`Idempotent-Replayed: true`),
# and clients deleted, as seen in this run's responses (lowercase ids).
_replayed = set()
_deleted = set()


@schemathesis.hook
def after_call(context, case, response):
    """Remember replayed creates and successful deletes (for `filter_failure`)."""
    label = case.operation.label
    if label == "POST /clients" and response.status_code == 201:
        if response.headers.get("idempotent-replayed", [""])[0] == "true":
            try:
                _replayed.add(response.json()["data"]["id"].lower())
            except (ValueError, KeyError, TypeError, AttributeError):
                pass
    elif label == "DELETE /clients/{id}" and response.status_code == 200:
        _deleted.add(str((case.path_parameters or {}).get("id", "")).lower())


@schemathesis.hook
def filter_failure(context, failure, case, response):
    """Drop "created resource not found" (ST302) for a replay of a deleted client.

    A POST with an `Idempotency-Key` used before (same body, within 24 hours)
    answers the first answer again and creates nothing, as the contract says
    (and as Stripe does). When schemathesis reuses a key whose client it has
    deleted since, the replay names that deleted client, and the follow-up
    GET/PATCH/DELETE rightly answers 404. Only that case is dropped: a 404
    right after a real create, or after a replay of a client that was never
    deleted, still fails the run. The deletes are those seen in this run, so
    a run must start in organizations of its own (tests/tests/schemathesis.rs
    makes two new ones each time): a key reused across runs could replay a
    client deleted by an earlier run.
    """
    if failure.code != "ST302":
        return True
    client = str((case.path_parameters or {}).get("id", "")).lower()
    return not (client in _replayed and client in _deleted)
