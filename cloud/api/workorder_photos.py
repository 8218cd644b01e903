"""Photos of a work order (拍照上传): the assigned crew user sends them, anyone who may see the order
sees them.

``POST /api/workorders/{id}/photos`` takes the image itself as the body (no multipart form: one
photo a request, so a weak mobile link retries one photo, not a batch). What arrives is checked by
its bytes, whatever ``Content-Type`` says: a JPEG (SOI, then a marker) or a PNG (signature, then
IHDR), at most ``lifecycle.work_orders.photos.max_kb`` (413 past it, read no further), at most
``per_order`` per order (409). The same content twice is kept once. An ``Idempotency-Key`` makes a
resend answer as the first send did. Uploads are audited (audit_log.py: who, when, the size and
SM3 hash of what was kept). Photos are kept in the store with the order (cloud/store/work_orders.py),
and served with their own media type, ``nosniff``, only to users who may see the order (a crew
user: their own orders; others: within their regions) — 404 otherwise, as for the order itself.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from starlette.concurrency import run_in_threadpool

from watertel.cloud.api.alarms import handling_error, now_ms
from watertel.cloud.api.deps import MAX_ROW_ID, AncestryDep, Crew, Reader, StoreDep, WorkOrdersDep
from watertel.cloud.api.errors import Problem
from watertel.cloud.api.schemas import refusals
from watertel.cloud.api.schemas.workorders import PhotoPublic
from watertel.cloud.api.workorders import IdempotencyKey, scoped
from watertel.cloud.store.handling import HandlingError
from watertel.cloud.store.idempotency import IdempotencyConflict, Once
from watertel.cloud.store.work_orders import PhotoLimit
from watertel.crypto import sm3

JPEG, PNG = "image/jpeg", "image/png"
BINARY = {"schema": {"type": "string", "format": "binary"}}
router = APIRouter(prefix="/api/workorders", tags=["work orders"], responses=refusals(401, 403))
PhotoId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]


def media_type_of(data: bytes) -> str | None:
    """``image/jpeg`` or ``image/png`` when the bytes are one (by their start), else None."""
    if len(data) >= 4 and data[:3] == b"\xff\xd8\xff" and 0xC0 <= data[3] <= 0xFE:
        return JPEG
    if len(data) >= 16 and data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        return PNG
    return None


async def read_limited(request: Request, max_bytes: int) -> bytes:
    """The body, refused (413) as soon as it is longer than ``max_bytes``."""
    too_big = Problem(413, "photo.size", f"a photo may be at most {max_bytes // 1024} kB", max_kb=max_bytes // 1024)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_big
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


def public(photo: dict) -> PhotoPublic:
    return PhotoPublic(**photo, url=f"/api/workorders/{photo['order_id']}/photos/{photo['id']}")


@router.post("/{order_id}/photos", status_code=201, responses=refusals(404, 409, 413, 415, 422),
             openapi_extra={"requestBody": {"required": True, "content": {JPEG: BINARY, PNG: BINARY},
                                            "description": "the photo itself: JPEG or PNG (checked by its bytes)"}})
async def add_photo(order_id: Annotated[int, Path(ge=1, le=MAX_ROW_ID)], user: Crew, request: Request,
                    response: Response, store: StoreDep, ancestry: AncestryDep, cfg: WorkOrdersDep,
                    idempotency_key: IdempotencyKey = None) -> PhotoPublic:
    """Keep a photo with the work order (the assigned crew user, while it is accepted or reported)."""
    request.state.audit_summary = f"photo for work order {order_id}"
    await run_in_threadpool(scoped, store, ancestry, user, order_id)
    data = await read_limited(request, cfg.photos.max_kb * 1024)
    media_type = media_type_of(data)
    if media_type is None:
        raise Problem(415, "photo.type", "not a JPEG or PNG image (judged by its bytes)")
    digest = sm3(data).hex()
    request.state.audit_summary = f"photo for work order {order_id}: {media_type}, {len(data)} bytes, SM3 {digest}"
    done = Once(user.username, idempotency_key, f"POST {request.url.path} sm3:{digest}") if idempotency_key else None
    try:
        photo = await run_in_threadpool(store.add_photo, order_id, user.username, now_ms(), media_type, data, digest,
                                        cfg.photos.per_order, done)
    except HandlingError as err:
        raise handling_error(err) from err
    except PhotoLimit as err:
        raise Problem(409, "photo.limit", str(err), limit=err.limit) from err
    except IdempotencyConflict as err:
        raise Problem(422, "idempotency.reuse", str(err), key=err.key) from err
    if done is not None and done.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return public(photo)


@router.get("/{order_id}/photos", responses=refusals(404))
def list_photos(order_id: Annotated[int, Path(ge=1, le=MAX_ROW_ID)], user: Reader, store: StoreDep,
                ancestry: AncestryDep) -> list[PhotoPublic]:
    scoped(store, ancestry, user, order_id)
    return [public(p) for p in store.photos(order_id)]


@router.get("/{order_id}/photos/{photo_id}", response_class=Response, responses={
    200: {"description": "the photo", "content": {JPEG: BINARY, PNG: BINARY}}, **refusals(404)})
def get_photo(order_id: Annotated[int, Path(ge=1, le=MAX_ROW_ID)], photo_id: PhotoId, user: Reader, store: StoreDep,
              ancestry: AncestryDep) -> Response:
    """The photo's bytes, to users who may see its work order."""
    scoped(store, ancestry, user, order_id)
    found = store.photo(photo_id)
    if found is None or found[0]["order_id"] != order_id:
        raise Problem(404, "photo.unknown", f"no photo {photo_id} in work order {order_id}", id=photo_id, order=order_id)
    meta, data = found
    return Response(data, media_type=meta["media_type"], headers={
        "Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff",
        "Content-Disposition": f'inline; filename="workorder-{order_id}-photo-{photo_id}.{meta["media_type"][6:]}"'})
