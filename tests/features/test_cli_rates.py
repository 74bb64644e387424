"""Options that take a share (0 to 1): a percentage given by mistake is answered with the share it means."""

import pytest
from typer.testing import CliRunner

from thinfile.cli import app

runner = CliRunner()


@pytest.mark.parametrize("command", ["run", "train"])
def test_approval_rate_50_is_refused_with_the_share_it_means(command):
    result = runner.invoke(app, [command, "--approval-rate", "50"])
    assert result.exit_code == 2
    assert "--approval-rate takes a share between 0 and 1: for 50% give 0.5" in result.output


def test_the_percentage_message_is_the_whole_error_not_appended_to_typers_own():
    result = runner.invoke(app, ["run", "--approval-rate", "50"])
    assert "Invalid value" not in result.output and "less than or equal" not in result.output


@pytest.mark.parametrize("command", ["run", "train"])
def test_bad_rate_given_as_a_percentage_names_its_own_flag_and_share(command):
    result = runner.invoke(app, [command, "--bad-rate", "5"])
    assert result.exit_code == 2
    assert "--bad-rate takes a share between 0 and 1: for 5% give 0.05" in result.output


@pytest.mark.parametrize("value", ["150", "-0.5"])
def test_a_share_beyond_any_percentage_is_refused_without_suggesting_one(value):
    result = runner.invoke(app, ["run", "--approval-rate", value])
    assert result.exit_code == 2
    assert f"--approval-rate takes a share between 0 and 1, not {value}" in result.output


@pytest.mark.parametrize("value", ["0", "0.5", "1"])
def test_a_share_from_0_to_1_is_taken(value):
    # with --cutoff too, the command stops at the policy's own check, after the options were read
    result = runner.invoke(app, ["run", "--approval-rate", value, "--cutoff", "600"])
    assert result.exit_code == 2
    assert "give at most one of --cutoff, --approval-rate" in result.output
