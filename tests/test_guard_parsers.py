"""The guard's two readers of client bytes (services/triton/guard.py): nothing of a request or
call passes before its token is seen, and what passes is exactly what the client sent."""

from __future__ import annotations

import hpack

from services.triton.guard import PREFACE, GrpcCalls, HttpRequests

TOKEN = b"Bearer s3cret"


def request(path: str, token: bytes | None, body: bytes = b"") -> bytes:
    auth = b"Authorization: " + token + b"\r\n" if token else b""
    return b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n" + auth + b"Content-Length: %d\r\n\r\n" % len(body) + body


def test_pipelined_requests_pass_whole_and_the_one_without_token_stops_there() -> None:
    first, second = request("/a", TOKEN, b"x" * 100), request("/b", TOKEN, b"y" * 5)
    assert HttpRequests(TOKEN).feed(first + second) == (first + second, False)
    passed, refused = HttpRequests(TOKEN).feed(first + request("/c", None, b"z"))
    assert passed == first and refused, "the second request's head never passes"
    assert HttpRequests(TOKEN).feed(request("/d", b"Bearer nope")) == (b"", True)


def test_a_head_in_pieces_is_held_until_checked_and_a_body_streams() -> None:
    body = b"b" * 200_000
    whole = request("/v2/models/m/infer", TOKEN, body)
    reader = HttpRequests(TOKEN)
    head_end = whole.index(b"\r\n\r\n")
    assert reader.feed(whole[:20]) == (b"", False), "half a head: nothing passes"
    passed = reader.feed(whole[20 : head_end + 10])[0]
    assert passed == whole[: head_end + 10], "the head checked, it passes with what came of the body"
    rest = [whole[i : i + 65536] for i in range(head_end + 10, len(whole), 65536)]
    assert b"".join(reader.feed(piece)[0] for piece in rest) == whole[head_end + 10 :]


def test_a_chunked_body_ends_where_h11_says() -> None:
    chunked = b"POST /x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    assert HttpRequests(TOKEN).feed(chunked + request("/y", None)) == (chunked, True)


def frame(kind: int, flags: int, stream: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload


def call_headers(encoder: hpack.Encoder, token: bytes | None) -> bytes:
    headers = [(":method", "POST"), (":scheme", "http"), (":path", "/inference.GRPCInferenceService/ServerReady"), (":authority", "x")]
    return encoder.encode(headers + ([("authorization", token.decode())] if token else []))


def test_grpc_calls_pass_with_the_token_in_one_frame_or_split_and_stop_without() -> None:
    encoder = hpack.Encoder()
    settings = frame(0x4, 0, 0, b"")
    block = call_headers(encoder, TOKEN)
    opening = frame(0x1, 0x4, 1, block)
    data = frame(0x0, 0x1, 1, b"\x00\x00\x00\x00\x00")
    calls = GrpcCalls(TOKEN)
    assert calls.feed(PREFACE + settings + opening[:7]) == (PREFACE + settings, False), "half a frame waits"
    assert calls.feed(opening[7:] + data) == (opening + data, False)
    split = call_headers(encoder, TOKEN)
    parts = frame(0x1, 0, 3, split[:5]) + frame(0x9, 0x4, 3, split[5:])
    assert calls.feed(parts) == (parts, False), "HEADERS + CONTINUATION, checked once whole"
    assert calls.feed(frame(0x1, 0x4, 5, call_headers(encoder, None))) == (b"", True)
    assert GrpcCalls(TOKEN).feed(b"GET / HTTP/1.1\r\n\r\n" + b"x" * 20) == (b"", True), "not HTTP/2: refused"


def test_a_malformed_request_is_a_bad_request_and_a_refusal_after_answers_is_a_close() -> None:
    from services.triton.guard import BAD_REQUEST, FORBIDDEN, REFUSAL

    garbled = HttpRequests(TOKEN)
    assert garbled.feed(b"NOT HTTP AT ALL\r\n\r\n") == (b"", True) and garbled.refusal() == BAD_REQUEST
    fresh = HttpRequests(TOKEN)
    fresh.feed(request("/a", None))
    assert fresh.refusal() == FORBIDDEN % (len(REFUSAL), REFUSAL)
    late = HttpRequests(TOKEN)
    late.feed(request("/a", TOKEN) + request("/b", None))
    assert late.refusal() == b"", "an answer of the server's may be on its way: the connection just closes"
