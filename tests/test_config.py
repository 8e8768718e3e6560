from __future__ import annotations

import os

import pytest

from bailian_tui.core import config, secrets
from tests.conftest import ROOT, TEST_KEY


def test_defaults_without_any_file(tmp_path):
    settings = config.load(env={"XDG_CONFIG_HOME": str(tmp_path), "HOME": str(tmp_path)})
    assert settings.path is None
    assert settings.base_url == "https://dashscope.aliyuncs.com/api/v1"
    assert settings.get("validation.max_length") == 8192


def test_example_file_is_valid_and_documents_every_key():
    settings = config.load(ROOT / "config.example.yaml", env={})
    text = (ROOT / "config.example.yaml").read_text()
    for key in config.SCHEMA:
        assert f"{key.split('.')[-1]}:" in text, key
    assert settings.region == "cn-beijing"


def test_environment_wins_over_the_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("dashscope:\n  region: ap-southeast-1\n  base_url: http://file/api/v1\n")
    env = {"DASHSCOPE_HTTP_BASE_URL": "http://http-env/api/v1", "DASHSCOPE_API_KEY": TEST_KEY}
    settings = config.load(path, env=env)
    assert settings.base_url == "http://http-env/api/v1"
    assert settings.origins["dashscope.base_url"] == "$DASHSCOPE_HTTP_BASE_URL"
    env["DASHSCOPE_BASE_URL"] = "http://base-env/api/v1"
    assert config.load(path, env=env).base_url == "http://base-env/api/v1"
    assert settings.masked_key == f"sk-…{TEST_KEY[-4:]}" and TEST_KEY not in settings.where()


def test_xdg_location_is_read(tmp_path):
    (tmp_path / "bailian-tui").mkdir()
    (tmp_path / "bailian-tui" / "config.yaml").write_text("dashscope:\n  region: cn-hongkong\n")
    settings = config.load(env={"XDG_CONFIG_HOME": str(tmp_path)})
    assert settings.base_url == "https://cn-hongkong.dashscope.aliyuncs.com/api/v1"


@pytest.mark.parametrize("text, fragment", [
    ("dashscope:\n  timeout: soon\n", "c.yaml:2: dashscope.timeout: expected float, got 'soon'"),
    ("dashscope:\n  retries: 3\n", "c.yaml:2: dashscope.retries: unknown key"),
    ("dashscope: [\n", "c.yaml:2: is not valid YAML"),
    ("- a\n- b\n", "must be a mapping"),
    ("validation:\n  max_length: 1.5\n", "c.yaml:2: validation.max_length: expected int"),
])
def test_bad_config_names_file_line_and_key(tmp_path, text, fragment):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(config.ConfigError) as err:
        config.load(path, env={})
    assert fragment in str(err.value)


def test_missing_explicit_file(tmp_path):
    with pytest.raises(config.ConfigError, match="no such file"):
        config.load(tmp_path / "absent.yaml", env={})


def test_key_in_a_readable_file_warns_and_never_shows(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(f"dashscope:\n  api_key: {TEST_KEY}\n  timeout: [1]\n")
    os.chmod(path, 0o644)
    with pytest.raises(config.ConfigError) as err:
        config.load(path, env={})
    assert TEST_KEY not in str(err.value)
    path.write_text(f"dashscope:\n  api_key: {TEST_KEY}\n")
    settings = config.load(path, env={})
    assert any("chmod 600" in w for w in settings.warnings)
    os.chmod(path, 0o600)
    assert config.load(path, env={}).warnings == []


def test_mask_and_redact():
    assert secrets.mask("sk-0123456789abcdef") == "sk-…cdef"
    assert secrets.mask(None) == "(no key)"
    secrets.remember("sk-0123456789abcdef")
    assert "0123456789" not in secrets.redact("Bearer sk-0123456789abcdef rejected")
