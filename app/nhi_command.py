"""`jml nhi [--json]`: the registered non-human identities and their owners (SPEC
"NHIs"), as the ledger keeps them after the last run: `{"nhis": [{"target", "account",
"kind", "owner", "owner_status", "since", "review"}]}`. `owner` is the current owner's
employee_id (for an orphan, the last one); `owner_status` that person's lifecycle state
as the last run saw it (`absent` when the feed no longer has them, or never had);
`since` the as-of date of the run that made them owner; `review` whether a handover
waits for their confirmation. Read-only: it records no run."""

from __future__ import annotations

from app.cli_support import DEFAULT_CONFIG, ConfigOpt, JsonOpt, emit, open_ledger, out
from app.render import table
from jml.ledger import PersonState
from jml.model import Lifecycle
from jml.nhi import STATUS

FIELDS = ("target", "account", "kind", "owner", "owner_status", "since", "review")


def owner_status(state: PersonState | None) -> str:
    """A person's lifecycle as an NHI owner's status (SPEC `owner_status`)."""
    if state is None or state.absent_since is not None:
        return "absent"
    return STATUS[Lifecycle(state.lifecycle)]


def nhi(config: ConfigOpt = DEFAULT_CONFIG, as_json: JsonOpt = False) -> None:
    """The registered non-human identities, who owns each, and since when."""
    with open_ledger(config) as ledger:
        owned = sorted(ledger.nhi_ownerships().values(), key=lambda o: o.key)
        people = ledger.person_states()
    listed = [
        {
            "target": o.target,
            "account": o.account,
            "kind": o.kind,
            "owner": o.owner,
            "owner_status": owner_status(people.get(o.owner)),
            "since": o.since.isoformat(),
            "review": o.review,
        }  # fmt: skip
        for o in owned
    ]
    if as_json:
        emit({"nhis": listed})
        return
    rows = [[item[name] for name in FIELDS] for item in listed]
    out.print(table(f"{len(listed)} non-human identities", FIELDS, rows))
