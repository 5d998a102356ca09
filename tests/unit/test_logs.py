"""Tests of irkit.sim.logs: log sources, the kubelet's log options, and bounded streaming."""

from __future__ import annotations

import re
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from irkit.sim.logs import (
    DEFAULT_TEMPLATE,
    FileLog,
    GeneratedLog,
    Line,
    LogSource,
    TextLog,
    format_timestamp,
    make_source,
    parse_size,
)
from irkit.sim.logstream import LogOptions, stream_log

T0 = datetime(2026, 11, 26, 3, 0, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
MB = 1_000_000


def body(source: LogSource, now: datetime = T0, /, **options: Any) -> bytes:
    return b"".join(stream_log(source, LogOptions(**options), now))


def ten_lines() -> TextLog:
    """line0 .. line9, stamped T0 .. T0+9s."""
    return TextLog("\n".join(f"line{i}" for i in range(10)), T0)


class ListedLog(LogSource):
    """Lines from a list through the generic code paths only: no count, scanning positioning."""

    def __init__(self, lines: list[Line]) -> None:
        self.lines = lines

    def line_count(self) -> None:
        return None

    def iter_lines(self, start_index: int = 0) -> Iterator[Line]:
        return iter(self.lines[start_index:])


class WatchedLog(GeneratedLog):
    """A generated log that records where each read starts and how many lines it yields."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.starts: list[int] = []
        self.yielded = 0

    def iter_lines(self, start_index: int = 0) -> Iterator[Line]:
        self.starts.append(start_index)
        for line in super().iter_lines(start_index):
            self.yielded += 1
            yield line

    def render_block(self, first: int, stop: int, timestamps: bool) -> str:
        # The fast path reads in blocks: a stream's first block is where its read starts.
        if not self.yielded:
            self.starts.append(first)
        self.yielded += min(stop, self.line_count()) - first
        return super().render_block(first, stop, timestamps)


# --- timestamps -------------------------------------------------------------------------------


def test_timestamp_format_is_kubelets_rfc3339_with_nine_digits() -> None:
    assert format_timestamp(datetime(2026, 11, 26, 3, 12, 1, tzinfo=UTC)) == (
        "2026-11-26T03:12:01.000000000Z"
    )
    assert format_timestamp(datetime(2026, 11, 26, 3, 12, 1, 123456, tzinfo=UTC)) == (
        "2026-11-26T03:12:01.123456000Z"
    )
    plus_two = timezone(timedelta(hours=2))
    assert format_timestamp(datetime(2026, 11, 26, 5, 12, 1, tzinfo=plus_two)) == (
        "2026-11-26T03:12:01.000000000Z"
    )


def test_timestamps_option_prefixes_every_line() -> None:
    log = TextLog("started\nlistening on :8080\n", T0, timedelta(milliseconds=1500))
    assert body(log, timestamps=True) == (
        b"2026-11-26T03:00:00.000000000Z started\n"
        b"2026-11-26T03:00:01.500000000Z listening on :8080\n"
    )


# --- each option alone ------------------------------------------------------------------------


def test_no_options_streams_every_line_with_newlines() -> None:
    assert body(ten_lines()) == b"".join(f"line{i}\n".encode() for i in range(10))


@pytest.mark.parametrize(
    ("tail", "expected"),
    [(3, b"line7\nline8\nline9\n"), (1, b"line9\n"), (0, b""), (50, None)],
)
def test_tail_lines_keeps_the_last_n(tail: int, expected: bytes | None) -> None:
    assert body(ten_lines(), tail_lines=tail) == (
        body(ten_lines()) if expected is None else expected
    )


def test_since_seconds_keeps_lines_at_or_after_the_bound() -> None:
    now = T0 + 10 * SECOND  # bound T0+7s: line7 is exactly on it and stays
    assert body(ten_lines(), now, since_seconds=3) == b"line7\nline8\nline9\n"


def test_since_time_keeps_lines_at_or_after_it() -> None:
    assert body(ten_lines(), since_time=T0 + 8 * SECOND) == b"line8\nline9\n"
    assert body(ten_lines(), since_time=T0 + timedelta(seconds=7.5)) == b"line8\nline9\n"
    assert body(ten_lines(), since_time=T0 + 60 * SECOND) == b""


def test_limit_bytes_cuts_inside_a_line_like_the_kubelet() -> None:
    assert body(TextLog("alpha\nbeta\ngamma\n", T0), limit_bytes=8) == b"alpha\nbe"
    assert body(TextLog("alpha\nbeta\n", T0), limit_bytes=6) == b"alpha\n"
    assert body(TextLog("alpha\n", T0), limit_bytes=100) == b"alpha\n"


def test_limit_bytes_counts_the_timestamp_prefix() -> None:
    assert body(ten_lines(), timestamps=True, limit_bytes=12) == b"2026-11-26T0"


def test_follow_on_a_finished_log_ends_with_the_same_bytes() -> None:
    assert body(ten_lines(), follow=True, tail_lines=2) == b"line8\nline9\n"


# --- options combined -------------------------------------------------------------------------


def test_tail_since_limit_and_timestamps_together() -> None:
    # Tail 5 keeps line5..line9, since T0+7s keeps line7..line9, the limit cuts inside line9.
    out = body(
        ten_lines(),
        T0 + 10 * SECOND,
        tail_lines=5,
        since_seconds=3,
        timestamps=True,
        limit_bytes=2 * 37 + 35,
    )
    assert out == (
        b"2026-11-26T03:00:07.000000000Z line7\n"
        b"2026-11-26T03:00:08.000000000Z line8\n"
        b"2026-11-26T03:00:09.000000000Z line"
    )


def test_tail_is_applied_before_the_time_filter_as_the_kubelet_does() -> None:
    # The kubelet seeks to the last N lines, then skips those older than the bound. With lines
    # out of time order that is not "last N of the recent ones": here only one line comes back.
    log = TextLog(
        "2026-11-26T03:00:10Z late\n2026-11-26T03:00:00Z early\n2026-11-26T03:00:20Z last\n", T0
    )
    assert body(log, tail_lines=2, since_time=T0 + 5 * SECOND) == b"last\n"


OPTION_MIXES = [
    {},
    {"tail_lines": 7},
    {"since_time": T0 + 30 * SECOND},
    {"since_time": T0 + timedelta(seconds=30.5)},
    {"tail_lines": 40, "since_time": T0 + 10 * SECOND, "timestamps": True},
    {"tail_lines": 3, "since_time": T0 + 10 * SECOND, "limit_bytes": 150},
    {"since_time": T0 - SECOND, "limit_bytes": 1},
    {"since_time": T0 + 3600 * SECOND},
]


@pytest.mark.parametrize("options", OPTION_MIXES)
def test_generated_fast_paths_agree_with_the_generic_scan(options: dict[str, Any]) -> None:
    generated = GeneratedLog(5_000, T0, SECOND, seed="agree")
    listed = ListedLog(list(generated.iter_lines()))
    assert body(generated, **options) == body(listed, **options)
    assert body(generated, **options) == body(TextLog(_as_text(generated), T0), **options)


def _as_text(source: LogSource) -> str:
    return "".join(f"{format_timestamp(ts)} {text}\n" for ts, text in source.iter_lines())


# --- chunks -----------------------------------------------------------------------------------


def test_chunks_are_bounded_by_chunk_size_and_rejoin_to_the_log() -> None:
    text = "\n".join(["short", "x" * 200, *(f"line {i}" for i in range(40))])
    log = TextLog(text, T0)
    chunks = list(stream_log(log, LogOptions(timestamps=True), T0, chunk_size=64))
    assert len(chunks) > 5
    assert all(len(chunk) <= 64 for chunk in chunks)
    assert all(len(chunk) == 64 for chunk in chunks[:-1])  # no tiny chunks in between
    assert b"".join(chunks) == body(log, timestamps=True)


def test_chunk_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        next(stream_log(ten_lines(), LogOptions(), T0, chunk_size=0))


# --- TextLog ----------------------------------------------------------------------------------


def test_text_log_takes_embedded_rfc3339_times_and_strips_them() -> None:
    log = TextLog(
        "2026-11-26T03:12:01Z xmrig started\n"
        "no time here\n"
        "2026-11-26T05:12:02.123456789+02:00 in another zone\n"
        "2026-13-26T03:12:01Z month 13 is text\n"
        "2026-11-26T03:12:01Z\n"
        "2026-11-26 03:12:01Z not RFC3339\n",
        T0,
        timedelta(minutes=1),
    )
    assert list(log.iter_lines()) == [
        (datetime(2026, 11, 26, 3, 12, 1, tzinfo=UTC), "xmrig started"),
        (T0 + timedelta(minutes=1), "no time here"),
        (datetime(2026, 11, 26, 3, 12, 2, 123456, tzinfo=UTC), "in another zone"),
        (T0 + timedelta(minutes=3), "2026-13-26T03:12:01Z month 13 is text"),
        (T0 + timedelta(minutes=4), "2026-11-26T03:12:01Z"),
        (T0 + timedelta(minutes=5), "2026-11-26 03:12:01Z not RFC3339"),
    ]
    assert all(ts.tzinfo is UTC for ts, _ in log.iter_lines())


def test_text_log_lines_and_newlines() -> None:
    assert TextLog("", T0).line_count() == 0
    assert TextLog("a\r\nb", T0).line_count() == 2
    assert [text for _, text in TextLog("a\n\nb\n", T0).iter_lines(1)] == ["", "b"]


def test_sources_need_an_aware_start_and_a_positive_interval() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        TextLog("a", datetime(2026, 11, 26))
    with pytest.raises(ValueError, match="interval"):
        GeneratedLog(100, T0, timedelta(0), seed="s")


# --- FileLog ----------------------------------------------------------------------------------


def test_file_log_reads_lines_with_their_times(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_text("boot\n2026-11-26T03:12:01Z xmrig started\nbye\n", encoding="utf-8")
    log = FileLog(path, T0, 2 * SECOND)
    assert log.line_count() is None
    assert list(log.iter_lines(1)) == [
        (datetime(2026, 11, 26, 3, 12, 1, tzinfo=UTC), "xmrig started"),
        (T0 + 4 * SECOND, "bye"),
    ]
    assert body(log, tail_lines=1) == b"bye\n"
    assert body(log, since_time=T0 + 3 * SECOND) == b"xmrig started\nbye\n"


def test_file_log_streams_a_big_file_without_holding_it(tmp_path: Path) -> None:
    path = tmp_path / "big.log"
    line = "y" * 999 + "\n"
    with path.open("w", encoding="utf-8") as out:
        for _ in range(20_000):  # 20 MB
            out.write(line)
    log = FileLog(path, T0)
    tracemalloc.start()
    try:
        total = sum(len(chunk) for chunk in stream_log(log, LogOptions(tail_lines=19_000), T0))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert total == 19_000 * 1000
    assert peak < 2 * MB


# --- GeneratedLog -----------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 999, 123_457, 3 * MB])
def test_generated_size_is_within_one_line_of_the_request(size: int) -> None:
    log = GeneratedLog(size, T0, SECOND, seed="size")
    served = len(body(log))
    assert size - (log.line_length + 1) < served <= size
    assert log.line_count() == size // (log.line_length + 1)


def test_generated_lines_have_one_length_and_differ_by_index() -> None:
    lines = [text for _, text in GeneratedLog(50_000, T0, SECOND, seed="len").iter_lines()]
    assert len({len(text) for text in lines}) == 1
    assert len(set(lines)) == len(lines)
    assert re.fullmatch(r"(INFO|WARN|ERROR) request id=000000007 path=/\S+ .*", lines[7])


def test_generated_log_is_deterministic_per_seed() -> None:
    def texts(seed: str) -> list[str]:
        return [text for _, text in GeneratedLog(20_000, T0, SECOND, seed=seed).iter_lines()]

    assert texts("alpha") == texts("alpha")
    assert texts("alpha") != texts("beta")


def test_generated_template_fields_and_errors() -> None:
    log = GeneratedLog(1_000, T0, SECOND, seed="t", template="n={index} s={status}")
    assert log.line_text(3).startswith("n=3 s=")
    with pytest.raises(ValueError, match="unknown template field 'user'"):
        GeneratedLog(1_000, T0, SECOND, seed="t", template="{user}")
    with pytest.raises(ValueError, match="ASCII text on one line"):
        GeneratedLog(1_000, T0, SECOND, seed="t", template="a\n{index}")


def test_generated_index_at_or_after_is_arithmetic() -> None:
    log = GeneratedLog(10_000, T0, 2 * SECOND, seed="idx")
    count = log.line_count()
    assert log.index_at_or_after(T0 - SECOND) == 0
    assert log.index_at_or_after(T0) == 0
    assert log.index_at_or_after(T0 + timedelta(microseconds=1)) == 1
    assert log.index_at_or_after(T0 + 4 * SECOND) == 2
    assert log.index_at_or_after(T0 + 5 * SECOND) == 3
    assert log.index_at_or_after(T0 + 10**6 * SECOND) == count


def test_tail_of_a_50mb_generated_log_positions_directly() -> None:
    log = WatchedLog(50 * MB, T0, SECOND, seed="tail")
    count = log.line_count()
    lines = body(log, tail_lines=3).decode().splitlines()
    assert [re.search(r"id=(\d+)", text)[1] for text in lines] == [  # type: ignore[index]
        f"{i:09d}" for i in range(count - 3, count)
    ]
    assert lines == [log.line_text(i) for i in range(count - 3, count)]
    assert log.starts == [count - 3]
    assert log.yielded == 3


def test_since_on_a_generated_log_positions_directly() -> None:
    log = WatchedLog(50 * MB, T0, SECOND, seed="since")
    count = log.line_count()
    now = T0 + (count - 1) * SECOND
    out = body(log, now, since_seconds=2, timestamps=True).decode().splitlines()
    assert [line.split(" ")[0] for line in out] == [
        format_timestamp(now - 2 * SECOND),
        format_timestamp(now - SECOND),
        format_timestamp(now),
    ]
    assert log.starts == [count - 3]


def test_streaming_100mb_generated_keeps_memory_low() -> None:
    # Lines of about 1 KB keep this fast under tracemalloc; what is bounded is the log's size.
    template = DEFAULT_TEMPLATE + " body=" + "." * 900
    log = GeneratedLog(100 * MB, T0, SECOND, seed="big", template=template)
    tracemalloc.start()
    try:
        total = sum(len(chunk) for chunk in stream_log(log, LogOptions(), T0))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert 100 * MB - (log.line_length + 1) < total <= 100 * MB
    assert peak < 5 * MB


# --- LogOptions.from_query --------------------------------------------------------------------


def test_from_query_parses_every_option() -> None:
    options = LogOptions.from_query(
        {
            "timestamps": ["true"],
            "tailLines": ["20"],
            "sinceTime": ["2026-11-26T05:00:00+02:00"],
            "limitBytes": ["4096"],
            "follow": ["1"],
            "container": ["app"],
            "previous": ["true"],
        }
    )
    assert options == LogOptions(
        timestamps=True,
        tail_lines=20,
        since_time=datetime(2026, 11, 26, 3, 0, tzinfo=UTC),
        limit_bytes=4096,
        follow=True,
    )
    assert LogOptions.from_query({}) == LogOptions()
    assert LogOptions.from_query({"sinceSeconds": ["60", "-1"]}).since_seconds == 60


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("1", True),
        ("", True),
        ("yes", True),
        ("false", False),
        ("FALSE", False),
        ("0", False),
    ],
)
def test_from_query_reads_booleans_as_kubernetes_does(raw: str, expected: bool) -> None:
    assert LogOptions.from_query({"timestamps": [raw], "follow": [raw]}) == LogOptions(
        timestamps=expected, follow=expected
    )


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"tailLines": ["-1"]}, "tailLines: Invalid value: -1: must be greater than or equal to 0"),
        ({"tailLines": ["ten"]}, 'tailLines: Invalid value: "ten": must be an integer'),
        ({"tailLines": ["1.5"]}, 'tailLines: Invalid value: "1.5": must be an integer'),
        ({"limitBytes": ["0"]}, "limitBytes: Invalid value: 0: must be greater than 0"),
        ({"sinceSeconds": ["0"]}, "sinceSeconds: Invalid value: 0: must be greater than 0"),
        ({"sinceSeconds": [" 5"]}, 'sinceSeconds: Invalid value: " 5": must be an integer'),
        (
            {"sinceSeconds": ["5"], "sinceTime": ["2026-11-26T03:00:00Z"]},
            "at most one of `sinceTime` or `sinceSeconds` may be specified",
        ),
        ({"sinceTime": ["yesterday"]}, 'sinceTime: Invalid value: "yesterday"'),
        ({"sinceTime": ["2026-11-26T03:00:00"]}, "must be an RFC3339 time"),
        ({"sinceTime": ["2026-02-30T03:00:00Z"]}, "day is out of range"),
    ],
)
def test_from_query_rejects_what_the_apiserver_rejects(
    query: dict[str, list[str]], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        LogOptions.from_query(query)


def test_option_errors_are_listed_together() -> None:
    with pytest.raises(ValueError, match=r"^\[tailLines: .*, limitBytes: .*\]$"):
        LogOptions.from_query({"tailLines": ["-2"], "limitBytes": ["-1"]})


def test_log_options_check_direct_construction_too() -> None:
    with pytest.raises(ValueError, match=r"sinceTime: .* must have a timezone"):
        LogOptions(since_time=datetime(2026, 11, 26))


# --- parse_size and make_source ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("100MB", 100_000_000),
        ("1.5MB", 1_500_000),
        ("512KB", 512_000),
        ("512KiB", 524_288),
        ("2 GiB", 2 * 2**30),
        ("1GB", 10**9),
        ("1MiB", 2**20),
        ("10B", 10),
        ("2048", 2048),
        ("0.5kib", 512),
    ],
)
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "MB", "-1MB", "1TB", "1,5MB", "1.MB", "ten MB"])
def test_parse_size_rejects_junk(text: str) -> None:
    with pytest.raises(ValueError, match="bad size"):
        parse_size(text)


def test_make_source_builds_each_kind(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "app.log").write_text("from file\n", encoding="utf-8")

    def make(spec: dict[str, object]) -> LogSource:
        return make_source(spec, start=T0, seed="s", base_dir=tmp_path)

    text = make({"text": "a\nb\n", "interval": 0.5})
    assert isinstance(text, TextLog)
    assert list(text.iter_lines()) == [(T0, "a"), (T0 + timedelta(seconds=0.5), "b")]
    assert isinstance(make({"file": "logs/app.log"}), FileLog)
    assert body(make({"file": "logs/app.log"})) == b"from file\n"
    generated = make({"generate": {"size": "512KB"}})
    assert isinstance(generated, GeneratedLog)
    assert 512_000 - 200 < len(body(generated)) <= 512_000
    templated = make({"generate": {"size": 1000, "template": "t{index}"}, "interval": 2})
    assert isinstance(templated, GeneratedLog)
    assert list(templated.iter_lines())[1] == (T0 + 2 * SECOND, "t1".ljust(templated.line_length))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"txt": "a"}, "unknown key 'txt' (did you mean 'text'?)"),
        ({"text": "a", "colour": "red"}, "unknown key 'colour' (known: text, file, generate"),
        ({}, "exactly one of 'text', 'file', 'generate'; got none"),
        ({"text": "a", "file": "b"}, "got 'text' and 'file'"),
        ({"text": 3}, "'text' must be a string"),
        ({"file": "missing.log"}, "'file': no file 'missing.log'"),
        ({"generate": "100MB"}, "'generate' must be a mapping"),
        ({"generate": {"sise": "1MB"}}, "unknown key 'generate.sise' (did you mean 'size'?)"),
        ({"generate": {}}, "'generate' needs a 'size'"),
        ({"generate": {"size": "1MB", "tempate": "x"}}, "'generate.tempate' (did you mean"),
        ({"generate": {"size": "12XB"}}, "'generate.size': bad size '12XB'"),
        ({"generate": {"size": -5}}, "'generate.size' must be bytes"),
        ({"generate": {"size": True}}, "'generate.size' must be bytes"),
        ({"text": "a", "interval": 0}, "'interval' must be a positive number"),
        ({"text": "a", "interval": "1s"}, "'interval' must be a positive number"),
        ({"text": "a", "interval": float("inf")}, "'interval' must be a positive number"),
    ],
)
def test_make_source_rejects_bad_specs(
    tmp_path: Path, spec: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        make_source(spec, start=T0, seed="s", base_dir=tmp_path)


@pytest.mark.parametrize(
    ("start", "interval"),
    [
        (datetime(2026, 1, 1, tzinfo=UTC), timedelta(seconds=1)),
        (datetime(2026, 12, 31, 23, 59, 58, 123456, tzinfo=UTC), timedelta(milliseconds=250)),
    ],
)
@pytest.mark.parametrize(
    "options",
    [
        LogOptions(),
        LogOptions(timestamps=True),
        LogOptions(timestamps=True, tail_lines=1000),
        LogOptions(tail_lines=0),
        LogOptions(timestamps=True, since_seconds=3600),
    ],
)
def test_block_rendering_of_generated_logs_is_byte_identical_to_line_by_line(
    start: datetime, interval: timedelta, options: LogOptions
) -> None:
    from irkit.sim.logstream import _encoded_lines

    log = GeneratedLog(300_000, start, interval, seed="blocks")
    now = start + interval * log.line_count()
    fast = b"".join(stream_log(log, options, now, chunk_size=4096))
    slow = b"".join(_encoded_lines(log, options, now))
    assert fast == slow and (fast or options.tail_lines == 0)
