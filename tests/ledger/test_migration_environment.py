"""The ledger's Alembic environment outside `Ledger.open`: a developer's revision run as
jml/ledger/migrations/README gives it (an engine from the URL), and offline mode refused."""

from __future__ import annotations

import os

import pytest
from alembic import command
from alembic.script import ScriptDirectory

from jml.ledger import Ledger
from jml.ledger.engine import HEAD, MIGRATIONS, alembic_config


def test_the_readmes_revision_command_on_a_database_at_head_finds_nothing_to_migrate(tmp_path):
    url = f"sqlite:///{tmp_path / 'scratch.db'}"
    Ledger.open(url).close()  # head, as the README says to do first
    config = alembic_config(url)
    # The new revision goes to a scratch folder, never into the package's versions.
    config.set_main_option("version_locations", os.pathsep.join([str(MIGRATIONS / "versions"), str(tmp_path)]))
    script = command.revision(config, message="nothing", autogenerate=True, version_path=str(tmp_path))
    assert script is not None and not isinstance(script, list)
    text = open(script.path, encoding="utf-8").read()
    upgrade = text.split("def upgrade() -> None:", 1)[1].split("def downgrade", 1)[0]
    assert "op." not in upgrade, f"tables.py and the migrations disagree:\n{upgrade}"
    assert script.down_revision == ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_the_migrations_refuse_to_run_offline(tmp_path):
    with pytest.raises(RuntimeError, match="online only"):
        command.upgrade(alembic_config(f"sqlite:///{tmp_path / 'never.db'}"), "head", sql=True)
    assert not (tmp_path / "never.db").exists()


def test_head_names_alembics_only_head():
    """`upgrade` trusts HEAD to skip Alembic on an up-to-date ledger: a new migration
    must move it."""
    assert ScriptDirectory.from_config(alembic_config()).get_heads() == [HEAD]
