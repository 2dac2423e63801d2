"""Bad import files, in every format, through every surface: a ``line N: ...`` message, never a
traceback or a 500, and nothing written.

Surfaces: the service, ``manage.py import_data``, the API upload and the admin upload. Uploads
above the synchronous threshold become an ImportJob run by Celery; the helper follows the job
so a bad big file is checked the same way as a bad small one.
"""

from __future__ import annotations

import functools
import gzip
import html
import io
import json
import re
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from annotate.models import Annotation, Prompt
from annotate.services.imports import ImportFailed, prompts_import
from core.roles import Roles
from tests.factories import ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

SURFACES = ("service", "command", "api", "admin")
FORMATS = ("rankwise", "pairwise", "hh-rlhf", "oasst")


def good_line(fmt: str, i: int) -> dict:
    """A valid line of ``fmt``; ``i`` makes each line's prompt different."""
    q = f"Question {i}?"
    if fmt == "rankwise":
        return {
            "id": f"p{i}", "prompt": q,
            "completions": [{"id": "A", "text": "good"}, {"id": "B", "text": "bad"}],
            "annotations": [{"annotator": "al", "ranking": [["A"], ["B"]], "time_ms": 1200}],
        }  # fmt: skip
    if fmt == "pairwise":
        return {"prompt": q, "chosen": "good", "rejected": "bad", "annotator": "al"}
    if fmt == "hh-rlhf":
        return {
            "chosen": f"\n\nHuman: {q}\n\nAssistant: good",
            "rejected": f"\n\nHuman: {q}\n\nAssistant: bad",
        }
    return {
        "message_id": f"m{i}", "role": "prompter", "text": q,
        "replies": [
            {"message_id": f"m{i}a", "role": "assistant", "text": "good", "rank": 0},
            {"message_id": f"m{i}b", "role": "assistant", "text": "bad", "rank": 1},
        ],
    }  # fmt: skip


def with_nul(fmt: str, i: int) -> tuple[dict, str]:
    """A line with ``\\u0000`` in one text, and the field path the error must name."""
    line = good_line(fmt, i)
    if fmt == "rankwise":
        line["completions"][1]["text"] = "b\x00d"
        return line, "completions[1].text"
    if fmt == "pairwise":
        line["rejected"] = "b\x00d"
        return line, "rejected"
    if fmt == "hh-rlhf":
        line["chosen"] = line["chosen"].replace("good", "go\x00od")
        return line, "chosen"
    line["replies"][1]["text"] = "b\x00d"
    return line, "replies[1].text"


def encode(*lines: dict) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


def good_file(fmt: str, n: int = 3) -> bytes:
    return encode(*(good_line(fmt, i) for i in range(n)))


@functools.cache
def gzip_stream(chunk: bytes, times: int) -> bytes:
    """``chunk * times`` gzipped without holding the expanded data in memory."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = [packer.compress(chunk) for _ in range(times)]
    return b"".join([*out, packer.flush()])


def truncated_gz(fmt: str) -> bytes:
    data = gzip.compress(good_file(fmt, 40), mtime=0)
    return data[: len(data) * 2 // 3]


def corrupt_gz(fmt: str) -> bytes:
    """Damage zlib notices at once (random damage may inflate to garbage until the CRC)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    head = packer.compress(good_file(fmt, 20)) + packer.flush(zlib.Z_FULL_FLUSH)
    data = bytearray(head + packer.compress(good_file(fmt, 20)) + packer.flush())
    data[len(head)] |= 0b110  # the next deflate block's type becomes 3, which does not exist
    return bytes(data)


def bad_crc_gz(fmt: str) -> bytes:
    data = bytearray(gzip.compress(good_file(fmt, 3), mtime=0))
    data[-8] ^= 0xFF  # the CRC32 of the trailer: only checked at the very end
    return bytes(data)


def nul_escape(fmt: str) -> tuple[bytes, str]:
    line, path = with_nul(fmt, 1)
    return encode(good_line(fmt, 0), line), rf"line 2: {re.escape(path)}: contains a NUL character"


@pytest.fixture
def admin(db):
    return UserFactory(username="boss", roles=[Roles.ADMIN], is_staff=True, is_superuser=True)


def import_through(surface, *, project, data, fmt, tmp_path, admin, capture) -> str:
    """Import ``data`` through ``surface``; the error text its user reads ("" on success)."""
    if surface == "service":
        try:
            prompts_import(project=project, source=io.BytesIO(data), fmt=fmt)
        except ImportFailed as exc:
            return str(exc)
        return ""
    if surface == "command":
        path = tmp_path / "upload.jsonl"
        path.write_bytes(data)
        try:
            call_command(
                "import_data", str(path), "--project", project.slug, "--format", fmt,
                stdout=io.StringIO(),
            )  # fmt: skip
        except CommandError as exc:
            return str(exc)
        return ""
    upload = SimpleUploadedFile("upload.jsonl", data)
    if surface == "api":
        client = APIClient()
        client.force_authenticate(admin)
        with capture(execute=True):
            response = client.post(
                f"/api/v1/projects/{project.slug}/prompts/import/",
                {"file": upload, "format": fmt}, format="multipart",
            )  # fmt: skip
        assert response.status_code in (201, 202, 400), response.content[:500]
        if response.status_code == 201:
            return ""
        body = response.json()
        if response.status_code == 202:
            body = client.get(body["url"]).json()
            assert body["status"] in ("succeeded", "failed"), body
        return "\n".join(
            f"line {e['line']}: " + (f"{e['field']}: " if e["field"] else "") + e["message"]
            for e in body["errors"]
        )
    from django.test import Client

    client = Client()
    client.force_login(admin)
    with capture(execute=True):  # the job (if any) runs as the request commits
        page = client.post(
            f"/admin/annotate/project/{project.pk}/import/", {"file": upload, "format": fmt}
        )
    if page.status_code == 302:  # imported now, or a job: its page shows its outcome
        page = client.get(page["Location"])
    assert page.status_code == 200, page.content[:500]
    found = re.search(rb'<ul class="errorlist" id="import-errors">(.*?)</ul>', page.content, re.S)
    return html.unescape(found.group(1).decode()) if found else ""


def check_refused(surface, fmt, data, pattern, *, tmp_path, admin, capture):
    project = ProjectFactory()
    text = import_through(
        surface, project=project, data=data, fmt=fmt, tmp_path=tmp_path, admin=admin,
        capture=capture,
    )  # fmt: skip
    assert re.search(pattern, text), f"{pattern!r} not in {text!r}"
    assert "Traceback" not in text
    assert Prompt.objects.count() == 0 and Annotation.objects.count() == 0


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("surface", SURFACES)
@pytest.mark.parametrize(
    ("case", "make", "pattern"),
    [
        ("truncated gzip", truncated_gz, r"line \d+: the gzip data is truncated"),
        ("corrupt gzip", corrupt_gz, r"line \d+: the gzip data is corrupt"),
        ("gzip CRC", bad_crc_gz, r"line \d+: the gzip data is corrupt"),
        ("NUL byte", lambda f: good_file(f, 1) + b'{"id": "x\x00"}\n', r"line 2: contains a NUL byte"),
    ],
    ids=lambda v: v if isinstance(v, str) and " " in v else "",
)  # fmt: skip
def test_broken_files_name_the_line(surface, fmt, case, make, pattern, tmp_path, admin,
                                    django_capture_on_commit_callbacks):  # fmt: skip
    check_refused(surface, fmt, make(fmt), pattern, tmp_path=tmp_path, admin=admin,
                  capture=django_capture_on_commit_callbacks)  # fmt: skip


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("surface", SURFACES)
def test_nul_character_in_any_text_names_the_field(surface, fmt, tmp_path, admin,
                                                   django_capture_on_commit_callbacks):  # fmt: skip
    data, pattern = nul_escape(fmt)
    check_refused(surface, fmt, data, pattern, tmp_path=tmp_path, admin=admin,
                  capture=django_capture_on_commit_callbacks)  # fmt: skip


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("surface", SURFACES)
def test_line_longer_than_the_limit(surface, fmt, settings, tmp_path, admin,
                                    django_capture_on_commit_callbacks):  # fmt: skip
    settings.RANKWISE_IMPORT_MAX_LINE_BYTES = 1000
    long = good_line(fmt, 1)
    long["padding"] = "x" * 5000
    data = encode(good_line(fmt, 0), long, good_line(fmt, 2))
    check_refused(surface, fmt, data, r"line 2: longer than 1000 bytes", tmp_path=tmp_path,
                  admin=admin, capture=django_capture_on_commit_callbacks)  # fmt: skip


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("surface", SURFACES)
@pytest.mark.parametrize("chunk", [b"\n" * 4096, b"0" * 4096], ids=["blank lines", "one line"])
def test_gzip_bomb_stops_at_the_size_limit(surface, fmt, chunk, settings, tmp_path, admin,
                                           django_capture_on_commit_callbacks):  # fmt: skip
    settings.RANKWISE_IMPORT_MAX_BYTES = 256 * 1024
    bomb = gzip_stream(chunk, 4 * 1024)  # 16 MiB expanded, about 16 KiB compressed
    assert len(bomb) < 50_000
    check_refused(surface, fmt, bomb, r"line \d+: more than 256 KiB once decompressed",
                  tmp_path=tmp_path, admin=admin,
                  capture=django_capture_on_commit_callbacks)  # fmt: skip


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("surface", SURFACES)
@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_utf8_bom_is_accepted(surface, fmt, gz, tmp_path, admin,
                              django_capture_on_commit_callbacks):  # fmt: skip
    """Windows tools start files with a byte order mark; `cat a b` keeps one per file."""
    data = b"\xef\xbb\xbf" + good_file(fmt, 2) + b"\xef\xbb\xbf" + encode(good_line(fmt, 5))
    data = gzip.compress(data) if gz else data
    project = ProjectFactory()
    text = import_through(
        surface, project=project, data=data, fmt=fmt, tmp_path=tmp_path, admin=admin,
        capture=django_capture_on_commit_callbacks,
    )  # fmt: skip
    assert text == ""
    assert Prompt.objects.filter(project=project).count() == 3


def rankwise_annotation(**fields) -> bytes:
    line = good_line("rankwise", 1)
    line["annotations"][0].update(fields)
    return encode(good_line("rankwise", 0), line)


def oasst_reply(**fields) -> bytes:
    line = good_line("oasst", 1)
    line["replies"][1].update(fields)
    return encode(good_line("oasst", 0), line)


@pytest.mark.parametrize("surface", SURFACES)
@pytest.mark.parametrize(
    ("fmt", "data", "pattern"),
    [
        ("rankwise", rankwise_annotation(time_ms=2**31),
         r"line 2: annotations\[0\]\.time_ms: must be at most 2147483647"),
        ("rankwise", rankwise_annotation(time_ms=2**64 - 1),
         r"line 2: annotations\[0\]\.time_ms: must be at most 2147483647"),
        ("rankwise", rankwise_annotation(ratings={"A": 2**63}),
         r"line 2: annotations\[0\]\.ratings: rating of 'A' is 9223372036854775808, outside 1..7"),
        ("rankwise", rankwise_annotation(created_at="2024-13-45T00:00:00"),
         r"line 2: annotations\[0\]\.created_at: must be an ISO 8601"),
        ("rankwise", rankwise_annotation(created_at="0001-01-01T00:00:00+05:00"),
         r"line 2: annotations\[0\]\.created_at: must be between"),
        ("rankwise", encode({**good_line("rankwise", 1), "id": 2**64 + 1}),
         r"line 1: id: must be a non-empty string"),
        ("rankwise", rankwise_annotation(annotator="a" * 151),
         r"line 2: annotations\[0\]\.annotator: is longer than 150 characters"),
        ("rankwise", encode({**good_line("rankwise", 1), "completions": [
            {"id": "A", "text": "a", "model": "m" * 201}, {"id": "B", "text": "b"}]}),
         r"line 1: completions\[0\]\.model: is longer than 200 characters"),
        ("pairwise", encode({**good_line("pairwise", 1), "annotator": "a" * 151}),
         r"line 1: annotator: is longer than 150 characters"),
        ("oasst", oasst_reply(rank="first"), r"line 2: replies\[1\]\.rank: must be an integer"),
        ("oasst", oasst_reply(rank=1.5), r"line 2: replies\[1\]\.rank: must be an integer"),
        ("oasst", oasst_reply(text=None), r"line 2: replies\[1\]\.text: must be a string"),
        ("oasst", oasst_reply(message_id=None),
         r"line 2: replies\[1\]\.message_id: must be a non-empty string"),
        ("oasst", oasst_reply(model_name=["x"]),
         r"line 2: replies\[1\]\.model_name: must be a string"),
        ("oasst", encode({**good_line("oasst", 1), "replies": "none"}),
         r"line 1: replies: must be a list"),
    ],
    ids=lambda v: "" if isinstance(v, bytes) else None,
)  # fmt: skip
def test_out_of_range_and_mistyped_values(surface, fmt, data, pattern, tmp_path, admin,
                                          django_capture_on_commit_callbacks):  # fmt: skip
    check_refused(surface, fmt, data, pattern, tmp_path=tmp_path, admin=admin,
                  capture=django_capture_on_commit_callbacks)  # fmt: skip


def test_lone_surrogate_is_invalid_json():
    data = encode(good_line("rankwise", 0)) + b'{"id": "x", "prompt": "\\ud800"}\n'
    with pytest.raises(ImportFailed, match=r"line 2: json: invalid JSON \(no low surrogate"):
        prompts_import(project=ProjectFactory(), source=io.BytesIO(data))


def test_escaped_backslash_before_u0000_is_text_not_nul():
    """``\\\\u0000`` in JSON is a backslash and the letters u0000, which the database stores."""
    line = good_line("rankwise", 0)
    line["prompt"] = "a \\u0000 b"
    prompts_import(project=ProjectFactory(), source=io.BytesIO(encode(line)))
    assert Prompt.objects.get().text == "a \\u0000 b"


def test_nul_in_an_object_key_is_named():
    line = good_line("rankwise", 0)
    line["metadata"] = {"ok": {"bad\x00key": 1}}
    with pytest.raises(ImportFailed, match=r"line 1: metadata\.ok: contains a NUL character"):
        prompts_import(project=ProjectFactory(), source=io.BytesIO(encode(line)))


class EndlessLine(io.RawIOBase):
    """``size`` bytes of one JSON string line made on the fly, so the test holds none of it."""

    def __init__(self, size: int):
        self.left = size
        self.head = b'{"id": "p1", "prompt": "'

    def readable(self):
        return True

    def readinto(self, buffer):
        if self.left <= 0:
            return 0
        n = min(len(buffer), self.left)
        chunk = (self.head + b"x" * n)[:n]
        self.head = self.head[n:]
        buffer[:n] = chunk
        self.left -= n
        if self.left == 0:
            buffer[n - 1 : n] = b"\n"
        return n


def test_a_huge_line_is_not_held_in_memory(settings):
    import tracemalloc

    settings.RANKWISE_IMPORT_MAX_LINE_BYTES = 1024 * 1024
    source = io.BufferedReader(EndlessLine(64 * 1024 * 1024))
    tracemalloc.start()
    try:
        with pytest.raises(ImportFailed, match=r"line 1: longer than 1048576 bytes"):
            prompts_import(project=ProjectFactory(), source=source)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024, f"peak {peak / 2**20:.0f} MiB for a 64 MiB line"


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_line_numbers_count_skipped_blank_runs(gz, tmp_path):
    """Blank lines are skipped in bulk; the lines after them keep their numbers."""
    bad = json.dumps({"id": "x", "prompt": "Q", "completions": ["one"]}).encode() + b"\n"
    data = encode(good_line("rankwise", 0)) + b"\n \r\n\t\n" * 50_000 + b"  " + bad
    path = tmp_path / "blank.jsonl"
    path.write_bytes(gzip.compress(data) if gz else data)
    with pytest.raises(ImportFailed, match=r"^line 150002: completions: 1 item, need 2 to 9"):
        prompts_import(project=ProjectFactory(), source=str(path))
