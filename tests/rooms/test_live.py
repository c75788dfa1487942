"""The live protocol, action by action, and every refusal: over real consumers (channels' communicator), on the
in-memory layer and, in the PostGIS lane, on the Redis channel layer."""

import json

import pytest
from asgiref.sync import sync_to_async
from django.test import override_settings

from accounts import services as accounts_services
from accounts.models import GroupKind
from rooms import services
from rooms.models import Message, QuestionState, RoomKind, RoomMember, RoomVisibility
from tests.rooms.conftest import connect, finish, join, make_room, run

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_official_update_reaches_everyone_and_counts_who_saw_it(tree, people, town_hall):
    async def scenario():
        alice, bob = await join(people.alice, town_hall), await join(people.bob, town_hall)
        host = await join(people.host, town_hall)
        ack = await host.act("message.post", kind="official", body="Water is rising on the river road.")
        assert ack["type"] == "ack", ack
        got = [await alice.event("message.posted"), await bob.event("message.posted")]
        seen = await alice.act("message.seen", message_ids=[ack["result"]["message_id"]])
        await finish(alice, bob, host)
        return ack, got, seen

    ack, got, seen = run(scenario())
    for frame in got:
        assert frame["data"]["body"] == "Water is rising on the river road."
        assert frame["data"]["kind"] == "official"
        assert frame["actor_id"] == people.host.pk
    assert seen["result"] == {"recorded": 1}
    message = Message.objects.get(pk=ack["result"]["message_id"])
    assert message.seen.count() == 1


def test_a_listener_cannot_post_and_the_connection_stays_usable(tree, people):
    room = make_room(tree, people, kind=RoomKind.PRESS_CONFERENCE, title="Press briefing")

    async def scenario():
        alice = await join(people.alice, room)
        refusal = await alice.act("message.post", kind="chat", body="hello")
        official = await alice.act("message.post", kind="official", body="I am the mayor now")
        pong = await alice.act("ping")
        await finish(alice)
        return alice.welcome, refusal, official, pong

    welcome, refusal, official, pong = run(scenario())
    assert welcome["role"] == "listener"
    assert (refusal["type"], refusal["code"]) == ("error", "listener")
    assert (official["type"], official["code"]) == ("error", "not_official")
    assert pong["type"] == "pong"
    assert not Message.objects.filter(room=room).exists()


def test_closed_chat_needs_the_floor_which_moderators_grant_and_revoke(tree, people):
    room = make_room(tree, people, chat_open=False)

    async def scenario():
        alice, mod = await join(people.alice, room), await join(people.moderator, room)
        results = [await alice.act("message.post", kind="chat", body="Can I speak?")]
        results.append(await alice.act("hand.raise"))
        raised = await mod.event("hand.raised")
        results.append(await mod.act("hand.grant", user_id=people.alice.pk))
        results.append(await alice.act("message.post", kind="chat", body="The bridge is closed."))
        results.append(await mod.act("hand.revoke", user_id=people.alice.pk))
        results.append(await alice.act("message.post", kind="chat", body="One more thing"))
        results.append(await mod.act("hand.grant", user_id=people.alice.pk))  # the hand is down now
        await finish(alice, mod)
        return raised, results

    raised, (closed, hand, granted, spoke, revoked, closed_again, not_raised) = run(scenario())
    assert closed["code"] == "chat_closed"
    assert hand["result"] == {"state": "raised"}
    assert raised["data"] == {"user_id": people.alice.pk}
    assert granted["result"] == {"state": "granted"}
    assert spoke["type"] == "ack"
    assert revoked["result"] == {"state": "lowered"}
    assert closed_again["code"] == "chat_closed"
    assert not_raised["code"] == "conflict"
    assert list(Message.objects.filter(room=room).values_list("body", flat=True)) == ["The bridge is closed."]


def test_a_muted_person_cannot_talk_until_unmuted(tree, people, town_hall):
    async def scenario():
        alice, mod = await join(people.alice, town_hall), await join(people.moderator, town_hall)
        out = [await alice.act("message.post", kind="chat", body="first")]
        out.append(await mod.act("member.mute", user_id=people.alice.pk, minutes=10, reason="Flooding the chat"))
        rights = await alice.frame()
        while rights["type"] != "rights":
            rights = await alice.frame()
        out.append(await alice.act("message.post", kind="chat", body="second"))
        out.append(await alice.act("question.ask", body="why?"))
        out.append(await mod.act("member.unmute", user_id=people.alice.pk))
        out.append(await alice.act("message.post", kind="chat", body="third"))
        await finish(alice, mod)
        return out

    first, muted, refused, refused_question, unmuted, third = run(scenario())
    assert first["type"] == muted["type"] == unmuted["type"] == third["type"] == "ack"
    assert refused["code"] == refused_question["code"] == "muted"
    assert list(Message.objects.filter(room=town_hall).values_list("body", flat=True)) == ["first", "third"]


def test_a_banned_person_is_disconnected_and_cannot_reconnect(tree, people, town_hall):
    async def scenario():
        alice, mod = await join(people.alice, town_hall), await join(people.moderator, town_hall)
        ban = await mod.act("member.ban", user_id=people.alice.pk, reason="Threats")
        frames = []
        while True:
            output = await alice.ws.receive_output(timeout=5)
            frames.append(output)
            if output["type"] == "websocket.close":
                break
        again, code = await connect(people.alice, town_hall)
        await finish(mod)
        return ban, frames, again, code

    ban, frames, again, code = run(scenario())
    assert ban["type"] == "ack"
    assert frames[-1] == {"type": "websocket.close", "code": 4403}
    assert any('"banned"' in f.get("text", "") for f in frames)
    assert again is None
    assert code == 4403
    with pytest.raises(Exception, match="banned"):
        services.message_post(actor=people.alice, room_id=town_hall.pk, kind="chat", body="back door")


def test_hidden_messages_never_reach_non_moderators(tree, people, town_hall):
    async def scenario():
        alice, bob = await join(people.alice, town_hall), await join(people.bob, town_hall)
        mod = await join(people.moderator, town_hall)
        posted = await alice.act("message.post", kind="chat", body="Rumour: the dam broke")
        message_id = posted["result"]["message_id"]
        await bob.event("message.posted")
        hide = await mod.act("message.hide", message_id=message_id, reason="False information")
        bob_sees = await bob.event("message.hidden")
        mod_sees = await mod.event("message.hidden")
        # A late comer catching up from the start sees neither the text nor the reason; a moderator sees both.
        carol = await join(people.carol, town_hall, after=0)
        carol_frames = await carol.events_until_quiet()
        mod2 = await join(people.moderator, town_hall, after=0)
        mod_frames = await mod2.events_until_quiet()
        official = await mod.act("message.hide", message_id=message_id, reason="again")
        await finish(alice, bob, mod, carol, mod2)
        return message_id, hide, bob_sees, mod_sees, carol_frames, mod_frames, official

    message_id, hide, bob_sees, mod_sees, carol_frames, mod_frames, again = run(scenario())
    assert hide["type"] == "ack"
    assert bob_sees["data"] == {"message_id": message_id}
    assert mod_sees["data"]["reason"] == "False information"
    carol_text = json.dumps(carol_frames)
    assert "dam broke" not in carol_text
    assert "False information" not in carol_text
    assert any(f.get("event") == "message.hidden" for f in carol_frames)
    mod_text = json.dumps(mod_frames)
    assert "dam broke" in mod_text
    assert "False information" in mod_text
    assert again["code"] == "conflict"


def test_official_posts_are_never_hidden_and_an_edit_supersedes_with_history(tree, people, town_hall):
    async def scenario():
        host, mod = await join(people.host, town_hall), await join(people.moderator, town_hall)
        alice = await join(people.alice, town_hall)
        posted = await host.act("message.post", kind="official", body="Shelter at school 4 is open.")
        first = posted["result"]["message_id"]
        hide = await mod.act("message.hide", message_id=first, reason="no")
        edit = await host.act("message.edit", message_id=first, body="Shelter at school 4 is FULL; go to school 7.")
        stale = await host.act("message.edit", message_id=first, body="x")
        foreign = await alice.act("message.edit", message_id=edit["result"]["message_id"], body="mine")
        seen = await alice.event("message.posted")
        edited = await alice.event("message.posted")
        await finish(host, mod, alice)
        return first, hide, edit, stale, foreign, seen, edited

    first, hide, edit, stale, foreign, seen, edited = run(scenario())
    assert seen["data"]["message_id"] == first
    assert hide["code"] == "conflict"
    assert "never hidden" in hide["message"]
    assert stale["code"] == "conflict"
    assert foreign["code"] == "permission_denied"
    assert edited["data"]["supersedes_id"] == first
    old, new = Message.objects.get(pk=first), Message.objects.get(pk=edit["result"]["message_id"])
    assert (old.is_current, old.body) == (False, "Shelter at school 4 is open.")
    assert (new.is_current, new.supersedes_id) == (True, first)


def test_premoderated_questions_votes_and_answers(tree, people):
    room = make_room(tree, people, questions_premoderated=True)

    async def scenario():
        alice, bob = await join(people.alice, room), await join(people.bob, room)
        mod, speaker = await join(people.moderator, room), await join(people.speaker, room)
        asked = await alice.act("question.ask", body="When does the water come back?")
        qid = asked["result"]["message_id"]
        mod_sees = await mod.event("message.posted")
        alice_sees = await alice.event("message.posted")
        bob_early = await bob.events_until_quiet()
        early_vote = await bob.act("question.vote", question_id=qid)
        approve = await mod.act("question.approve", question_id=qid)
        bob_sees = await bob.event("question.approved")
        vote = await bob.act("question.vote", question_id=qid)
        twice = await bob.act("question.vote", question_id=qid)
        own = await alice.act("question.vote", question_id=qid)
        by_resident = await bob.act("question.answer", question_id=qid, body="tomorrow?")
        answer = await speaker.act("question.answer", question_id=qid, body="Tomorrow at 8.")
        answered = await bob.event("question.answered")
        rejected_q = await bob.act("question.ask", body="Spam spam")
        reject = await mod.act("question.reject", question_id=rejected_q["result"]["message_id"], reason="Spam")
        await finish(alice, bob, mod, speaker)
        return (qid, mod_sees, alice_sees, bob_early, early_vote, approve, bob_sees, vote, twice, own,
                by_resident, answer, answered, reject)  # fmt: skip

    (qid, mod_sees, alice_sees, bob_early, early_vote, approve, bob_sees, vote, twice, own, by_resident, answer,
     answered, reject) = run(scenario())  # fmt: skip
    assert mod_sees["data"]["question_state"] == alice_sees["data"]["question_state"] == "pending"
    assert "water come back" not in json.dumps(bob_early)
    assert early_vote["code"] == "conflict"
    assert approve["type"] == "ack"
    assert bob_sees["data"]["body"] == "When does the water come back?"
    assert vote["result"] == {"votes": 1}
    assert twice["result"] == {"votes": 1}
    assert own["code"] == "conflict"
    assert by_resident["code"] == "not_official"
    assert answered["data"] == {"message_id": qid, "answer_id": answer["result"]["answer_id"]}
    assert reject["type"] == "ack"
    question = Message.objects.get(pk=qid)
    assert (question.question_state, question.votes) == (QuestionState.ANSWERED, 1)
    assert Message.objects.get(pk=answer["result"]["answer_id"]).answers_id == qid


def test_polls_single_and_multiple_choice_live_results_and_close(tree, people, town_hall):
    async def scenario():
        host, alice, bob = (await join(people.host, town_hall), await join(people.alice, town_hall),
                            await join(people.bob, town_hall))  # fmt: skip
        by_resident = await alice.act("poll.create", question="Q?", choices=["a", "b"])
        bad = await host.act("poll.create", question="Q?", choices=["only one"])
        poll = await host.act("poll.create", question="Which shelter?", choices=["School 4", "Gym", "Church"])
        pid = poll["result"]["poll_id"]
        single = await alice.act("poll.vote", poll_id=pid, choices=[0, 1])
        out_of_range = await alice.act("poll.vote", poll_id=pid, choices=[7])
        vote = await alice.act("poll.vote", poll_id=pid, choices=[1])
        live = await bob.event("poll.voted")
        again = await alice.act("poll.vote", poll_id=pid, choices=[0])
        named = await host.act("poll.create", question="Who?", choices=["x", "y"], multiple=True, anonymous=False)
        multi = await bob.act("poll.vote", poll_id=named["result"]["poll_id"], choices=[0, 1])
        close = await host.act("poll.close", poll_id=pid)
        late = await bob.act("poll.vote", poll_id=pid, choices=[0])
        unknown = await bob.act("poll.vote", poll_id=99999, choices=[0])
        await finish(host, alice, bob)
        return by_resident, bad, single, out_of_range, vote, live, again, multi, close, late, unknown

    by_resident, bad, single, out_of_range, vote, live, again, multi, close, late, unknown = run(scenario())
    assert by_resident["code"] == "permission_denied"
    assert bad["code"] == "validation_failed"
    assert single["code"] == out_of_range["code"] == "validation_failed"
    assert vote["result"] == {"results": [0, 1, 0]}
    assert live["data"] == {"poll_id": live["data"]["poll_id"], "choices": [1], "results": [0, 1, 0]}
    assert live["actor_id"] is None  # anonymous: nobody learns who voted
    assert again["code"] == "conflict"
    assert multi["result"] == {"results": [1, 1]}
    assert close["type"] == "ack"
    assert late["code"] == "conflict"
    assert unknown["code"] == "not_found"


def test_residents_outside_an_area_room_cannot_join_it(tree, people):
    room = make_room(tree, people, visibility=RoomVisibility.AREA, kind=RoomKind.COMMUNITY, title="Alphaville")

    async def scenario():
        inside, _ = await connect(people.alice, room)
        outside, code = await connect(people.outsider, room)
        if inside:
            await finish(inside)
        return inside is not None, outside, code

    inside, outside, code = run(scenario())
    assert inside
    assert outside is None
    assert code == 4403
    assert not RoomMember.objects.filter(room=room, user=people.outsider).exists()


def test_coordination_rooms_are_for_staff_of_the_area_only(tree, people):
    room = make_room(tree, people, kind=RoomKind.COORDINATION, visibility=RoomVisibility.INVITE, title="CP desk")

    async def scenario():
        resident, code = await connect(people.alice, room)
        moderator, _ = await connect(people.moderator, room)
        if moderator:
            await finish(moderator)
        return resident, code, moderator is not None

    resident, code, moderator_in = run(scenario())
    assert (resident, code) == (None, 4403)
    assert moderator_in


def test_group_rooms_admit_members_of_their_groups_and_invite_rooms_the_invited(tree, people):
    group = accounts_services.communication_group_ensure(
        key="assisted-evacuation-a", name="Assisted evacuation, Alphaville", kind=GroupKind.NEEDS, area=tree.city_a
    )
    accounts_services.group_member_add(group=group, user=people.alice)
    by_group = make_room(tree, people, visibility=RoomVisibility.GROUP, groups=[group], kind=RoomKind.COMMUNITY,
                         title="Assisted evacuation")  # fmt: skip
    by_invite = make_room(tree, people, visibility=RoomVisibility.INVITE, title="Press pool")
    services.room_member_add(room=by_invite, user=people.bob, role="participant", source="invite", actor=people.host)

    async def scenario():
        results = {}
        for name, user, room in [
            ("alice-group", people.alice, by_group),
            ("bob-group", people.bob, by_group),
            ("bob-invite", people.bob, by_invite),
            ("carol-invite", people.carol, by_invite),
        ]:
            client, code = await connect(user, room)
            results[name] = code if client is None else "in"
            if client:
                await finish(client)
        return results

    assert run(scenario()) == {"alice-group": "in", "bob-group": 4403, "bob-invite": "in", "carol-invite": 4403}


def test_malformed_unknown_and_oversized_frames_get_an_error_and_the_connection_stays(tree, people, town_hall):
    async def scenario():
        alice = await join(people.alice, town_hall)
        frames = []
        for raw in ["not json", "[1,2]", '{"no": "type"}', '{"type": 5}', '{"type": "explode"}',
                    json.dumps({"type": "message.post", "body": "x" * 20000}),
                    json.dumps({"type": "message.post", "kind": "chat", "body": "x" * 5000}),
                    json.dumps({"type": "message.post", "kind": "chat", "body": 12}),
                    json.dumps({"type": "message.post", "kind": "shout", "body": "hi"}),
                    json.dumps({"type": "message.edit", "message_id": "1; drop table", "body": "x"}),
                    json.dumps({"type": "question.vote", "question_id": 10**12}),
                    json.dumps({"type": "room.update", "changes": "all"}),
                    json.dumps({"type": "catchup", "after": "x"})]:  # fmt: skip
            await alice.ws.send_to(text_data=raw)
            frames.append(await alice.frame())
        await alice.ws.send_to(bytes_data=b"\x00\x01")
        frames.append(await alice.frame())
        pong = await alice.act("ping")
        ok = await alice.act("message.post", kind="chat", body="still here")
        await finish(alice)
        return frames, pong, ok

    frames, pong, ok = run(scenario())
    assert all(f["type"] == "error" for f in frames), frames
    codes = [f["code"] for f in frames]
    assert codes == ["malformed", "malformed", "malformed", "malformed", "unknown_type", "too_large", "too_long",
                     "validation_failed", "validation_failed", "validation_failed", "not_found",
                     "validation_failed", "invalid", "malformed"]  # fmt: skip
    assert pong["type"] == "pong"
    assert ok["type"] == "ack"
    assert list(Message.objects.filter(room=town_hall).values_list("body", flat=True)) == ["still here"]


@override_settings(ROOM_RATE_LIMIT_MESSAGES=3, ROOM_RATE_LIMIT_WINDOW_SECONDS=60)
def test_per_person_rate_limit_and_slow_mode(tree, people, town_hall):
    async def scenario():
        alice, mod = await join(people.alice, town_hall), await join(people.moderator, town_hall)
        sent = [await alice.act("message.post", kind="chat", body=f"m{i}") for i in range(4)]
        staff = [await mod.act("message.post", kind="chat", body=f"s{i}") for i in range(4)]
        slow = await mod.act("room.update", changes={"slow_mode_seconds": 30})
        bob = await join(people.bob, town_hall)
        first = await bob.act("message.post", kind="chat", body="one")
        second = await bob.act("message.post", kind="chat", body="two")
        await finish(alice, mod, bob)
        return sent, staff, slow, first, second

    sent, staff, slow, first, second = run(scenario())
    assert [f["type"] for f in sent] == ["ack", "ack", "ack", "error"]
    assert sent[3]["code"] == "rate_limited"
    assert all(f["type"] == "ack" for f in staff)
    assert slow["type"] == first["type"] == "ack"
    assert second["code"] == "slow_mode"


def test_reconnecting_catches_up_from_the_last_seen_event(tree, people, town_hall):
    async def scenario():
        host = await join(people.host, town_hall)
        alice = await join(people.alice, town_hall)
        await host.act("message.post", kind="official", body="update 1")
        seen = await alice.event("message.posted")
        await alice.close()
        for n in (2, 3):
            await host.act("message.post", kind="official", body=f"update {n}")
        back = await join(people.alice, town_hall, after=seen["id"])
        frames = await back.events_until_quiet()
        await finish(host, back)
        return frames

    frames = run(scenario())
    bodies = [f["data"]["body"] for f in frames if f.get("event") == "message.posted"]
    assert bodies == ["update 2", "update 3"]
    assert frames[-1]["type"] == "catchup.done"


def test_role_changes_take_effect_on_open_connections(tree, people, town_hall):
    async def scenario():
        host, alice = await join(people.host, town_hall), await join(people.alice, town_hall)
        await sync_to_async(services.room_member_add)(room=town_hall, user=people.bob)
        before = await alice.act("message.post", kind="official", body="official?")
        role = await host.act("member.role", user_id=people.alice.pk, role="speaker")
        rights = await alice.frame()
        while rights["type"] != "rights":
            rights = await alice.frame()
        after = await alice.act("message.post", kind="official", body="Road 5 reopened.")
        await finish(host, alice)
        return before, role, rights, after

    before, role, rights, after = run(scenario())
    assert before["code"] == "not_official"
    assert role["result"] == {"role": "speaker"}
    assert rights["role"] == "speaker"
    assert after["type"] == "ack"


def test_presence_counts_open_connections(tree, people, town_hall):
    async def scenario():
        alice, bob = await join(people.alice, town_hall), await join(people.bob, town_hall)
        two = await alice.act("presence")
        await bob.close()
        one = await alice.act("presence")
        await finish(alice)
        return alice.welcome["presence"], two, one

    first, two, one = run(scenario())
    assert first == 1
    assert two["count"] == 2
    assert one["count"] == 1


def test_a_question_is_queued_for_the_classifier(tree, people, town_hall):
    from classifier.models import ClassifiedText

    question = services.question_ask(actor=people.alice, room_id=town_hall.pk, body="My father needs oxygen, help")
    queued = ClassifiedText.objects.get(object_id=question.pk, content_type__model="message")
    assert (queued.text, queued.author_id) == ("My father needs oxygen, help", people.alice.pk)
