"""Config precedence (file < environment < flags) and clear errors for bad input."""

from __future__ import annotations

import pytest

from omnimigrate.config import instance_for, load_settings, resolve_tokens
from omnimigrate.errors import ConfigError


def test_file_then_env_then_flags(tmp_path, monkeypatch):
    cfg = tmp_path / "omnimigrate.yaml"
    cfg.write_text(
        "rate_limit: 30\nconcurrency: 2\nstore: s3://bucket/dr\n"
        "instances:\n  prod:\n    url: https://acme.omniapp.co/api\n    token_env: OMNI_PROD\n"
    )
    assert load_settings(cfg).rate_limit == 30
    monkeypatch.setenv("OMNIMIGRATE_RATE_LIMIT", "45")
    monkeypatch.setenv("OMNIMIGRATE_CONCURRENCY", "3")
    settings = load_settings(cfg)
    assert (settings.rate_limit, settings.concurrency, settings.store) == (45, 3, "s3://bucket/dr")
    assert load_settings(cfg, rate_limit=500, concurrency=None).rate_limit == 500
    assert load_settings(cfg, concurrency=None).concurrency == 3
    prod = settings.instances["prod"]
    assert prod.url == "https://acme.omniapp.co" and prod.token_env == ["OMNI_PROD"]


def test_a_keys_rate_limit_is_the_flag_then_the_instance_then_the_settings(tmp_path):
    cfg = tmp_path / "omnimigrate.yaml"
    cfg.write_text(
        "rate_limit: 30\ninstances:\n"
        "  fast:\n    url: https://fast.omniapp.co\n    token_env: A\n    rate_limit: 90\n"
        "  plain:\n    url: https://plain.omniapp.co\n    token_env: B\n"
    )
    settings = load_settings(cfg)
    fast, plain = settings.instances["fast"], settings.instances["plain"]
    assert settings.rate_limit_for(fast, 120) == 120
    assert settings.rate_limit_for(fast) == 90 and settings.rate_limit_for(fast, None) == 90
    assert settings.rate_limit_for(plain) == 30


def test_tokens_in_the_file_are_refused(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("instances:\n  prod:\n    url: https://acme.omniapp.co\n    token: abc\n")
    with pytest.raises(ConfigError, match=r"tokens are never read from the config file.*token_env"):
        load_settings(cfg)


def test_bad_values_name_the_field(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("rate_limit: 0\ninstances:\n  x:\n    url: ftp://nope\n    token_env: [A]\n")
    with pytest.raises(ConfigError) as info:
        load_settings(cfg)
    assert "rate_limit" in str(info.value) and "instances.x.url" in str(info.value)
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.yaml")


def test_tokens_come_from_named_variables():
    assert [t.get_secret_value() for t in resolve_tokens(["A", "B"], {"A": "1", "B": "2"})] == [
        "1",
        "2",
    ]
    with pytest.raises(ConfigError, match="OMNI_X is not set"):
        resolve_tokens(["OMNI_X"], {})


def test_instance_by_url_or_name(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "instances:\n  prod:\n    url: https://acme.omniapp.co\n    token_env: [K1, K2]\n"
    )
    settings = load_settings(cfg)
    assert instance_for(settings, "prod", [], "OMNI_SOURCE_TOKEN").token_env == ["K1", "K2"]
    assert instance_for(settings, "https://b.omniapp.co", [], "OMNI_SOURCE_TOKEN").token_env == [
        "OMNI_SOURCE_TOKEN"
    ]
    with pytest.raises(ConfigError, match="known: prod"):
        instance_for(settings, "staging", [], "OMNI_SOURCE_TOKEN")


def test_service_names_only_instances_of_the_config(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(
        "instances: {prod: {url: 'https://a.omniapp.co', token_env: [T]}}\n"
        "service: {restore_targets: {standbyy: {}}, replication: [{source: prod, target: prod}]}\n"
    )
    with pytest.raises(
        ConfigError, match=r"service names 'standbyy', not an instance .*known: prod"
    ):
        load_settings(config)


def test_events_restore_into_listed_and_replication_targets_only(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(
        "instances: {prod: {url: 'https://a.omniapp.co', token_env: [T]},"
        " dr: {url: 'https://b.omniapp.co', token_env: [T]}, qa: {url: 'https://c.omniapp.co', token_env: [T]}}\n"
        "service:\n"
        "  restore_targets: {qa: {allow_include_deleted: true}}\n"
        "  replication: [{source: prod, target: dr, options: {on_conflict: overwrite}}]\n"
    )
    service = load_settings(config).service
    assert service.restore_target("prod") is None
    assert (
        service.restore_target("dr").allow_overwrite
        and not service.restore_target("dr").allow_include_deleted
    )
    assert (
        service.restore_target("qa").allow_include_deleted
        and not service.restore_target("qa").allow_overwrite
    )
    assert service.host == "127.0.0.1"
