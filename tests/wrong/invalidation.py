"""Chapter 08: on_push / on_reconnect -- exact keys, too broad, refetching the deleted."""

from __future__ import annotations

from . import Case


def push(cache, message):
    topic = message.get("topic")
    if topic is None:
        return
    if message["type"].endswith(".deleted"):
        cache.remove((topic, message["id"]))
    cache.invalidate((topic,))


def reconnect(cache, topics):
    for topic in topics:
        cache.invalidate((topic,))


def push_exact(cache, message):
    topic = message.get("topic")
    if topic is not None:
        cache.invalidate((topic,), exact=True)  # the list refreshes, the open detail does not


def push_everything(cache, message):
    if message.get("topic"):
        cache.invalidate(())  # "just refetch everything"


def push_fetches_all(cache, message):
    topic = message.get("topic")
    if topic is None:
        return
    for query in cache.find((topic,)):
        cache.fetch(query.key)  # fetches hidden queries too


def push_invalidate_then_remove(cache, message):
    topic = message.get("topic")
    if topic is None:
        return
    cache.invalidate((topic,))  # refetches the deleted item first: a 404
    if message["type"].endswith(".deleted"):
        cache.remove((topic, message["id"]))


def push_never_removes(cache, message):
    topic = message.get("topic")
    if topic is None:
        return
    if message["type"].endswith(".deleted"):
        cache.invalidate((topic,), exact=True)  # refresh the list; the item's query stays
    else:
        cache.invalidate((topic,))


def push_indexes_topic(cache, message):
    topic = message["topic"]  # KeyError on welcome / pong
    if message["type"].endswith(".deleted"):
        cache.remove((topic, message["id"]))
    cache.invalidate((topic,))


def push_on_control(cache, message):
    topic = message.get("topic", "proposals")  # a "default topic" for control messages
    if message["type"].endswith(".deleted"):
        cache.remove((topic, message["id"]))
    cache.invalidate((topic,))


def reconnect_nothing(cache, topics):
    pass  # "the socket is back, all good"


def reconnect_everything(cache, topics):
    cache.invalidate(())


def reconnect_exact(cache, topics):
    for topic in topics:
        cache.invalidate((topic,), exact=True)


def push_bindings(cache, message):
    """Right, written differently: per-message keys computed, refetch via invalidate_for."""
    topic = message.get("topic")
    if not topic:
        return
    if message.get("type", "").endswith(".deleted") and "id" in message:
        cache.remove((topic, message["id"]), exact=True)
    for query in cache.find((topic,)):
        cache.invalidate(query.key, exact=True)


def reconnect_subscribed(cache, topics):
    for query in cache:
        if query.key[0] in set(topics):
            cache.invalidate(query.key, exact=True)


CASES = [
    Case("exact-key-invalidation", "exact-key", (push_exact, reconnect)),
    Case("invalidate-everything", "invalidate-everything", (push_everything, reconnect)),
    Case("fetches-hidden-queries", "refetch-inactive", (push_fetches_all, reconnect)),
    Case("refetches-the-deleted", "refetch-deleted", (push_invalidate_then_remove, reconnect)),
    Case("never-removes-deleted", "delete-not-removed", (push_never_removes, reconnect)),
    Case("crashes-without-topic", "no-topic-crash", (push_indexes_topic, reconnect)),
    Case("invalidates-on-control", "invalidate-on-control", (push_on_control, reconnect)),
    Case("reconnect-does-nothing", "reconnect-no-invalidate", (push, reconnect_nothing)),
    Case("reconnect-everything", "reconnect-too-broad", (push, reconnect_everything)),
    Case("reconnect-exact-keys", "reconnect-exact", (push, reconnect_exact)),
    Case("right-solution-shape", None, (push, reconnect)),
    Case("right-key-by-key", None, (push_bindings, reconnect_subscribed)),
]
