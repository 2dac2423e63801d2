"""The export settings are spelled once (exports.options.OPTION_FIELDS): the API, the admin form
and export_data offer exactly those, so a new setting cannot reach one front end only."""

from django.core.management import load_command_class

from exports.admin import ExportForm, export_form_options
from exports.api.serializers import SnapshotCreateSerializer
from exports.options import KNOWN_KEYS, SPLITS


def test_the_api_offers_every_setting():
    assert set(SnapshotCreateSerializer().fields) - {"project", "format"} == KNOWN_KEYS


def test_the_admin_form_offers_every_setting_and_gathers_the_split():
    fields = set(ExportForm().fields) - {"project", "format"}
    assert fields == (KNOWN_KEYS - {"split"}) | set(SPLITS)
    data = {name: name for name in fields}
    assert export_form_options(data) == {
        **{key: key for key in KNOWN_KEYS - {"split"}},
        "split": {name: name for name in SPLITS},
    }


def test_the_command_offers_every_setting():
    parser = load_command_class("exports", "export_data").create_parser("manage.py", "export_data")
    dests = {action.dest for action in parser._actions}
    assert dests >= KNOWN_KEYS
    opts = parser.parse_args(["--project", "p", "--format", "pairwise", "--include-simulated"])
    assert opts.include_simulated is True and opts.split == "0.9,0.05,0.05"
