"""The static files storage hashes what stylesheets refer to, and leaves an inline SVG's own references alone."""

from typing import Any

from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.management import call_command
from django.test import override_settings


def test_encoded_fragment_references_survive_collectstatic(tmp_path):
    source = tmp_path / "source"
    (source / "css").mkdir(parents=True)
    (source / "css" / "icon.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    svg = "data:image/svg+xml,%3Csvg%3E%3Cpath fill='url(%23a)'/%3E%3C/svg%3E"
    (source / "css" / "tool.css").write_text(
        f'.a {{ background: url("{svg}"); }}\n.b {{ background: url(icon.png); }}\n.c {{ mask: url(%23mask); }}\n'
    )
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "commsplatform.core.storage.StaticFilesStorage"},
    }
    with override_settings(STATIC_ROOT=str(tmp_path / "out"), STATICFILES_DIRS=[str(source)], STORAGES=storages):
        call_command("collectstatic", interactive=False, verbosity=0)
        storage: Any = staticfiles_storage  # the configured storage, a ManifestFilesMixin
        hashed = storage.stored_name("css/tool.css")
        css = (tmp_path / "out" / hashed).read_text()
        icon = storage.stored_name("css/icon.png")
    assert "url(%23a)" in css
    assert "url(%23mask)" in css
    assert "#a#a" not in css
    assert icon.split("/")[-1] in css  # ordinary references are still hashed
    assert (tmp_path / "out" / f"{hashed}.gz").exists()  # and compressed copies are written
