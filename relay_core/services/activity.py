"""What happened on an endpoint as the owner sees it: recent messages and devices with online state."""

from __future__ import annotations

from sqlmodel import Session, col, select

from relay_core.errors import NotFound, ValidationFailed
from relay_core.models import Device, DevicePresence, Endpoint, Message
from relay_core.rules import DEVICE_NAME_MAX, check_text
from relay_core.services.stats import fresh_node_ids
from relay_core.views import DeviceView, MessageView

RECENT_MESSAGES = 50


def recent_messages(*, session: Session, endpoint: Endpoint) -> list[MessageView]:
    rows = session.exec(
        select(Message).where(Message.endpoint_pk == endpoint.id)
        .order_by(col(Message.timestamp).desc(), col(Message.id).desc()).limit(RECENT_MESSAGES)
    ).all()
    return [MessageView.model_validate(m) for m in rows]


def list_devices(*, session: Session, endpoint: Endpoint) -> list[DeviceView]:
    devices = session.exec(
        select(Device).where(Device.endpoint_pk == endpoint.id).order_by(col(Device.last_seen_at).desc())
    ).all()
    live = fresh_node_ids(session=session)
    online = set(session.exec(
        select(DevicePresence.device_id).where(
            DevicePresence.endpoint_pk == endpoint.id, col(DevicePresence.node_id).in_(live),
            col(DevicePresence.connections) > 0,
        )
    ).all())
    return [DeviceView.model_validate({**d.model_dump(), "online": d.device_id in online}) for d in devices]


def rename_device(*, session: Session, endpoint: Endpoint, device_id: str, name: str | None) -> DeviceView:
    check_text("device_id", device_id)
    device = session.exec(
        select(Device).where(Device.endpoint_pk == endpoint.id, Device.device_id == device_id)
    ).first()
    if device is None:
        raise NotFound("No such device.")
    name = check_text("name", name or "").strip() or None
    if name is not None and len(name) > DEVICE_NAME_MAX:
        raise ValidationFailed.field("name", f"at most {DEVICE_NAME_MAX} characters")
    device.name = name
    session.add(device)
    session.flush()
    return next(d for d in list_devices(session=session, endpoint=endpoint) if d.device_id == device_id)
