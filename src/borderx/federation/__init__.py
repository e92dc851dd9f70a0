"""Federation: serving followers (Subscribe), replicating from peers, and signing checkpoints.

DESIGN §3 and §5. Every gateway relays: what it accepted from anyone it serves to anyone
entitled, redacted where the follower is outside the audience. Followers and peers are
told of new statements by the :class:`~borderx.federation.feed.Feed` (pushed, not
polled) and read them from the store, so a slow follower costs a cursor, not a queue.
"""
