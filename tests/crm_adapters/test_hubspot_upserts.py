"""HubSpot tasks and meetings upserted by our ids when those are mapped to unique properties (exact requests)."""

from __future__ import annotations

from .samples import APPOINTMENT, TASK, sent_json
from .test_hubspot import OBJECTS, _upserted, hubspot

EXACTLY_ONCE = {"task_id": "seiketsu_task_id", "appointment_id": "seiketsu_appointment_id"}


async def test_a_task_is_upserted_by_our_task_id_then_associated(http, router):
    upsert = router.post(f"{OBJECTS}/tasks/batch/upsert").respond(200, json=_upserted("t9", new=False))
    associate = router.put(f"{OBJECTS}/tasks/t9/associations/default/contacts/12345").respond(
        200, json={"status": "COMPLETE", "results": []}
    )
    plain = router.post(f"{OBJECTS}/tasks")
    assert await hubspot(http, field_mapping=EXACTLY_ONCE).create_task(TASK, contact_id="12345") == "t9"
    assert sent_json(upsert) == {
        "inputs": [
            {
                "idProperty": "seiketsu_task_id",
                "id": "task-1",
                "properties": {
                    "hs_timestamp": "2026-05-02T15:00:00Z",
                    "hs_task_subject": "Call back Jane",
                    "hs_task_body": "Wants listings under 550k",
                    "hs_task_status": "NOT_STARTED",
                    "hs_task_type": "CALL",
                    "seiketsu_task_id": "task-1",
                },
            }
        ]
    }
    assert associate.call_count == 1 and associate.calls.last.request.content == b""
    assert not plain.called


async def test_a_meeting_is_upserted_by_our_appointment_id_then_associated(http, router):
    upsert = router.post(f"{OBJECTS}/meetings/batch/upsert").respond(200, json=_upserted("m7"))
    associate = router.put(f"{OBJECTS}/meetings/m7/associations/default/contacts/12345").respond(
        200, json={"status": "COMPLETE", "results": []}
    )
    adapter = hubspot(http, field_mapping=EXACTLY_ONCE)
    assert await adapter.create_appointment(APPOINTMENT, contact_id="12345") == "m7"
    [entry] = sent_json(upsert)["inputs"]
    assert (entry["idProperty"], entry["id"]) == ("seiketsu_appointment_id", "appt-1")
    assert entry["properties"]["seiketsu_appointment_id"] == "appt-1"
    assert entry["properties"]["hs_meeting_start_time"] == "2026-05-03T15:00:00Z"
    assert associate.call_count == 1
