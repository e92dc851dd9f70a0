"""The in-memory screening index: identifier and name keys → statements, kept current from the store.

Screening used to read the store for every batch (``lookup_many`` and ``lookup_names``)
and decode the envelope of every name candidate to score it. This index answers the
blocking step from memory and holds each candidate's matching form as the bytes the
store keeps in ``name_forms`` (``screening.names.dump_form``), so scoring needs no store
round trip; only the few real matches are read from the store, to answer with.

What it holds, without a Python object per key or per statement (issue #14's memory bound):

- one row per statement with a matching form: its issuer (a code), seq, whether it is
  *live* (neither superseded, withdrawn nor refused) and *present* (still indexed in the
  store: a refused statement leaves the name index), and its form's bytes in one
  ``bytearray``. Columns are ``array.array`` and ``bytearray``: a few bytes a row. What
  the exact name bound needs (the place as interned ids, and each name's compact, sorted
  compact and full text, parsed once when the row is added and held as numbers of
  distinct texts) is held beside, so that the bound for a whole batch's candidates is
  numpy and ``rapidfuzz.process.cpdist`` calls (``MemoryIndex.survivors``) with no form
  read, each distinct pair of texts scored once.
- the keys: a 64-bit hash of every identifier key (``i:scheme\\0value``) and blocking key
  (``screening.names.blocking_keys``) of every row, in sorted numpy runs (hash → row)
  searched with ``np.searchsorted`` for a whole batch at once, plus a small dict of
  recent additions folded into the runs from time to time. A hash collision can only
  add a candidate: every candidate is scored on its real form (``match_party``), which
  alone decides whether it matches, exactly as when the store answered.

Currency: the store writes an index change log (``Store.index_changes``) in the same
transaction as every mutation of what screening sees (appends, supersede and withdraw
marks, ``refuse_unverified``), in commit order on every backend and replica, and moves an
epoch at ``rebuild_index``. :meth:`MemoryIndex.refresh` (called before every Screen and
Search) reads the store's position — one indexed read — and applies what changed, or
rebuilds on a new epoch, so Screen answers what the store holds at the time of the call,
whichever replica or process wrote it.
"""

from __future__ import annotations

import sys
import threading
import time
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz, process

from borderx.errors import InvalidArgument
from borderx.logging import get_logger
from borderx.screening.index import form_of_party
from borderx.screening.names import MatchThresholds, PartyForm, light_form, load_form
from borderx.statements.bodies import BodyType
from borderx.statements.body_codec import party_of_body
from borderx.store.base import IndexEntry, PartyKey, StatementKey, Store

log = get_logger("borderx.screening.memindex")

#: recent keys held in the dict before they are folded into a sorted run
_DELTA_KEYS = 32_768
#: keys per sorted run while building (each run is then merged in one sort)
_BUILD_RUN = 1 << 20
#: decoded forms kept (candidates recur: the same parties are screened again and again)
_FORM_CACHE = 16_384
#: change-log entries applied per store read while tailing
_TAIL_CHUNK = 20_000
#: a change-log backlog beyond this (and half the rows) is read by a new build instead
_TAIL_MAX = 200_000

#: the 64-bit hash of a key (in-process only: nothing hashed is stored); a collision only adds a
#: candidate, which scoring on its real form then judges
_key_hash = hash

_Hashes = npt.NDArray[np.int64]
_Rows = npt.NDArray[np.int32]
_Ints = npt.NDArray[np.intp]


#: strings per sealed chunk of a :class:`_Strings` (a power of two)
_CHUNK_BITS = 12
_CHUNK = 1 << _CHUNK_BITS


class _Strings:
    """An append-only list of strings kept in tuples of ``_CHUNK``: out of the garbage collector's way.

    A tuple of strings alone is untracked by the collector after its first pass, so a full
    collection visits a few hundred chunks, not every string of every row (a plain list
    of a million strings is walked whole at every full collection).
    """

    __slots__ = ("_open", "_sealed")

    def __init__(self) -> None:
        self._sealed: list[tuple[str, ...]] = []
        self._open: list[str] = []

    def append(self, text: str) -> None:
        self._open.append(text)
        if len(self._open) == _CHUNK:
            self._sealed.append(tuple(self._open))
            self._open = []

    def __len__(self) -> int:
        return len(self._sealed) * _CHUNK + len(self._open)

    def take(self, at: Sequence[int]) -> list[str]:
        """The strings at positions ``at``."""
        sealed, open_, done = self._sealed, self._open, len(self._sealed) * _CHUNK
        return [sealed[i >> _CHUNK_BITS][i & (_CHUNK - 1)] if i < done else open_[i - done] for i in at]


class _Texts:
    """Distinct texts, each held once and named by a number (its order of arrival).

    Many parties bear the same name (a common distinctive part, the same city and trade
    words), so rows keep numbers and the bound scores each distinct pair of texts once.
    A dict of strings to ints holds no object the collector tracks.
    """

    __slots__ = ("_ids", "_texts", "text_bytes")

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._texts = _Strings()
        self.text_bytes = 0  # what the distinct strings hold

    def id(self, text: str) -> int:
        got = self._ids.get(text)
        if got is None:
            got = self._ids[text] = len(self._ids)
            self._texts.append(text)
            self.text_bytes += sys.getsizeof(text)
        return got

    def __len__(self) -> int:
        return len(self._ids)

    def take(self, at: Sequence[int]) -> list[str]:
        """The texts numbered ``at``."""
        return self._texts.take(at)

    def nbytes(self) -> int:
        """The strings, the table that numbers them and the list that names them."""
        return self.text_bytes + sys.getsizeof(self._ids) + 8 * len(self._ids)


def id_key(party: PartyKey) -> str:
    """The memory index's key of a party identifier (its own namespace beside the name keys)."""
    return f"i:{party[0]}\x00{party[1]}"


def _loaded(data: bytes, key: StatementKey) -> PartyForm | None:
    try:
        return load_form(data)
    except ValueError:
        log.warning("screening.unreadable_form", issuer=key[0], seq=key[1])
        return None


def _run(hashes: list[int], rows: list[int]) -> tuple[_Hashes, _Rows]:
    """A sorted run of (hash, row) pairs."""
    h = np.array(hashes, dtype=np.int64)
    r = np.array(rows, dtype=np.int32)
    order = np.argsort(h, kind="stable")
    return h[order], r[order]


def _postcode_hash(postcode: str) -> int:
    """0 for none; never 0 for a postcode (a collision only makes two postcodes look equal)."""
    return (_key_hash(postcode) or 1) if postcode else 0


class MemoryIndex:
    """Identifier and name keys → statements, in memory, tailing the store's index change log.

    Safe to call from many threads: one lock guards the structures (the work under it is
    short and holds the GIL anyway); scoring happens outside it.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.RLock()
        self._epoch: int | None = None
        self._generation = 0
        self._reset()
        #: seconds the last full build took, and how many rows it made (for the bench and logs)
        self.build_seconds = 0.0

    @property
    def lock(self) -> threading.RLock:
        """Held across one batch's lookups and scoring: rows stay the same rows (no build meanwhile)."""
        return self._lock

    def _reset(self) -> None:
        self._issuers: list[str] = []
        self._issuer_code: dict[str, int] = {}
        self._row_of: list[array[int]] = []  # per issuer code: seq → row (-1: none)
        self._row_issuer = array("i")
        self._row_seq = array("q")
        self._live = bytearray()
        self._present = bytearray()
        self._absent = 0  # rows not present: the postings filter runs only when there are some
        self._form_start = array("q", [0])  # row r's form is blob[start[r]:start[r + 1]]
        # the place part of each row's form, for a first cut of the name bound without
        # reading the form: country and city as interned ids (0: none), postcode hashed
        self._places: dict[str, int] = {"": 0}
        self._row_country = array("i")
        self._row_city = array("i")
        self._row_postcode = array("q")
        self._row_keyed = bytearray()  # 1: the party has an identifier or contact
        # what the name bound needs of each row's names, parsed once when the row is added
        # (``names.light_form``): row r's names are [name_start[r], name_start[r + 1]) of
        # these columns, each name's compact, sorted compact and full text by its number in
        # ``_texts``; a row whose form has no light reading has none and is scored in full
        self._row_light = bytearray()  # 1: the row's names are in the columns below
        self._name_start = array("q", [0])
        self._texts = _Texts()
        self._name_compact = array("i")
        self._name_sorted = array("i")
        self._name_full = array("i")
        self._blob = bytearray()
        self._runs: list[tuple[_Hashes, _Rows]] = []
        self._delta: dict[int, list[int]] = {}
        self._delta_keys = 0
        self._forms: OrderedDict[int, PartyForm] = OrderedDict()

    # ------------------------------------------------------------ currency

    def refresh(self) -> None:
        """Bring the index up to what the store holds now (build it on first use or a new epoch)."""
        state = self._store.index_state()
        if state.epoch == self._epoch and state.generation <= self._generation:
            return
        with self._lock:
            # a new epoch, or a backlog (a bulk sync into this store) that one scan of the
            # stored forms reads faster than statement by statement
            if self._epoch != state.epoch or state.generation - self._generation > max(
                _TAIL_MAX, len(self) // 2
            ):
                self._build()
                return
            while True:
                changes = self._store.index_changes(self._generation, limit=_TAIL_CHUNK)
                if changes.epoch != self._epoch or not changes.complete:
                    self._build()
                    return
                if not changes.touched:
                    return
                self._apply(self._store.index_entries(changes.touched))
                self._generation = changes.generation
                if len(changes.touched) < _TAIL_CHUNK:
                    return

    def _build(self) -> None:
        start = time.perf_counter()
        # the position first: whatever changes while the forms are read is in the log after
        # it, and applying an entry twice is harmless (each re-reads the statement's state)
        state = self._store.index_state()
        self._reset()
        # until it completes, no position: a build that fails leaves an index that the next
        # refresh builds again, never an empty one taken for current
        self._epoch = None
        # keys in flat lists, turned into arrays chunk by chunk: no dict entry per key
        hashes: list[int] = []
        rows: list[int] = []
        for chunk in self._store.index_forms():
            for entry in chunk:
                keys = self._add_row(entry)
                hashes.extend(map(_key_hash, keys))
                rows.extend([len(self._row_seq) - 1] * len(keys))
            if len(hashes) >= _BUILD_RUN:
                self._runs.append(_run(hashes, rows))
                hashes, rows = [], []
        if hashes:
            self._runs.append(_run(hashes, rows))
        self._fold(everything=True)
        self._epoch, self._generation = state.epoch, state.generation
        self.build_seconds = time.perf_counter() - start
        log.info(
            "screening.memory_index_built", rows=len(self._row_seq), seconds=round(self.build_seconds, 3)
        )

    def _apply(self, entries: Iterable[IndexEntry]) -> None:
        for entry in entries:
            row = self._row((entry.issuer, entry.seq))
            held = bool(entry.form or entry.names or entry.ids)
            if row < 0:
                if held:
                    self._add(entry)
            elif held:
                self._live[row] = entry.live
                if not self._present[row]:
                    self._present[row] = 1
                    self._absent -= 1
            else:  # refused: out of the store's index (its keys no longer count anywhere)
                self._live[row] = 0
                if self._present[row]:
                    self._present[row] = 0
                    self._absent += 1
        self._fold()

    # ------------------------------------------------------------ rows and keys

    def _row(self, key: StatementKey) -> int:
        code = self._issuer_code.get(key[0])
        if code is None:
            return -1
        rows = self._row_of[code]
        return rows[key[1]] if 0 <= key[1] < len(rows) else -1

    def _add(self, entry: IndexEntry) -> None:
        keys = self._add_row(entry)
        row = len(self._row_seq) - 1
        for key in keys:
            self._delta.setdefault(_key_hash(key), []).append(row)
        self._delta_keys += len(keys)
        if self._delta_keys >= _DELTA_KEYS:
            self._fold()

    def _add_row(self, entry: IndexEntry) -> list[str]:
        """A new row for ``entry``; returns its keys (for the caller to index)."""
        code = self._issuer_code.get(entry.issuer)
        if code is None:
            code = self._issuer_code[entry.issuer] = len(self._issuers)
            self._issuers.append(entry.issuer)
            self._row_of.append(array("i"))
        rows = self._row_of[code]
        if entry.seq >= len(rows):
            rows.extend([-1] * (max(entry.seq + 1, len(rows) * 2) - len(rows)))
        row = len(self._row_seq)
        rows[entry.seq] = row
        self._row_issuer.append(code)
        self._row_seq.append(entry.seq)
        self._live.append(1 if entry.live else 0)
        self._present.append(1)
        self._blob += entry.form
        self._form_start.append(len(self._blob))
        light = light_form(entry.form) if entry.form else None
        if light is None:  # no bound without reading the form: nothing to cut on
            self._row_country.append(0)
            self._row_city.append(0)
            self._row_postcode.append(0)
            self._row_keyed.append(1)
            self._row_light.append(0)
        else:
            country, city, postcode, keyed, names = light
            self._row_country.append(self._places.setdefault(country, len(self._places)))
            self._row_city.append(self._places.setdefault(city, len(self._places)))
            self._row_postcode.append(_postcode_hash(postcode))
            self._row_keyed.append(1 if keyed else 0)
            self._row_light.append(1)
            texts = self._texts
            for compact, sorted_compact, full in names:
                self._name_compact.append(texts.id(compact))
                self._name_sorted.append(texts.id(sorted_compact))
                self._name_full.append(texts.id(full))
        self._name_start.append(len(self._name_compact))
        return [*entry.names, *(id_key(i) for i in entry.ids)]

    def _fold(self, *, everything: bool = False) -> None:
        """Fold the recent keys into a sorted run; merge runs of like size (a log-structured merge)."""
        if self._delta:
            hashes = [h for h, rows in self._delta.items() for _ in rows]
            rows_ = [r for rows in self._delta.values() for r in rows]
            self._runs.append(_run(hashes, rows_))
            self._delta, self._delta_keys = {}, 0
        if everything and len(self._runs) > 2:
            # one sort of everything beats a cascade of merges
            all_h = np.concatenate([h for h, _ in self._runs])
            all_r = np.concatenate([r for _, r in self._runs])
            order = np.argsort(all_h, kind="stable")
            self._runs = [(all_h[order], all_r[order])]
        while len(self._runs) >= 2 and (everything or len(self._runs[-1][0]) * 2 >= len(self._runs[-2][0])):
            small_h, small_r = self._runs.pop()
            big_h, big_r = self._runs.pop()
            at = np.searchsorted(big_h, small_h, side="right")
            self._runs.append((np.insert(big_h, at, small_h), np.insert(big_r, at, small_r)))

    def postings(
        self, keys: Sequence[str], *, cap: int | None = None, capped: Sequence[bool] = ()
    ) -> dict[str, list[int]]:
        """Rows holding each key (only keys held somewhere), present ones only, in no particular order.

        One ``searchsorted`` per run for the whole batch, one gather of every hit. A key
        marked in ``capped`` (aligned with ``keys``) held by more than ``cap`` rows is
        left out before its rows are gathered (the caller would drop it: screening skips
        unselective one-edit keys) when no row is absent, as then what is counted is what
        would be listed; otherwise the caller's own cut, on the listed rows, decides.
        """
        if not keys:
            return {}
        hashes = np.fromiter((_key_hash(k) for k in keys), dtype=np.int64, count=len(keys))
        out: dict[str, list[int]] = {}
        with self._lock:
            found: list[tuple[_Rows, _Ints, _Ints]] = []
            for run_h, run_r in self._runs:
                lo = np.searchsorted(run_h, hashes, side="left")
                found.append((run_r, lo, np.searchsorted(run_h, hashes, side="right") - lo))
            skip: list[bool] = []  # keys left out by the cap (none unless a key is over it)
            if cap is not None and capped and not self._absent and found:
                found, skip = self._capped(found, hashes, cap, capped)
            for run_r, lo, counts in found:
                hit = np.flatnonzero(counts)
                n = counts[hit]
                ends = np.cumsum(n)
                gather = np.repeat(lo[hit] - (ends - n), n) + np.arange(int(ends[-1]) if len(hit) else 0)
                rows = run_r[gather].tolist()
                start = 0
                for i, end in zip(hit.tolist(), ends.tolist(), strict=True):
                    key = keys[i]
                    if key in out:
                        out[key].extend(rows[start:end])
                    else:
                        out[key] = rows[start:end]
                    start = end
            if self._delta:
                for i, h in enumerate(hashes.tolist()):
                    got = self._delta.get(h)
                    if got and not (skip and skip[i]):
                        out.setdefault(keys[i], []).extend(got)
            # refused rows are out; a row is under a key once (two of its own keys would
            # have to collide to list it twice, which scoring then dedupes)
            if self._absent:
                present = self._present
                for key, rows_ in out.items():
                    out[key] = [r for r in rows_ if present[r]]
                return {k: v for k, v in out.items() if v}
        return out

    def held(self, keys: Sequence[str]) -> npt.NDArray[np.bool_]:
        """Per key, whether some row may be held under it; False proves that none is.

        The cheap half of ``postings`` for a batch whose keys mostly name nothing: one
        ``searchsorted`` per run and a look in the recent additions, no row gathered. A
        hash collision, or a row since refused or retired, can only answer True (the
        caller then asks ``postings`` and scores, which decide); never False for a key
        that ``postings`` would list.
        """
        hashes = np.array([_key_hash(k) for k in keys], dtype=np.int64)
        found = np.zeros(len(keys), dtype=bool)
        with self._lock:
            for run_h, _ in self._runs:
                if len(run_h):
                    # the methods, not numpy's functions: a single Screen asks for one key
                    at = run_h.searchsorted(hashes)
                    np.minimum(at, len(run_h) - 1, out=at)
                    found |= run_h.take(at) == hashes
            delta = self._delta
            if delta:
                found |= np.fromiter(map(delta.__contains__, hashes.tolist()), dtype=bool, count=len(keys))
        return found

    def _capped(
        self, found: list[tuple[_Rows, _Ints, _Ints]], hashes: _Hashes, cap: int, capped: Sequence[bool]
    ) -> tuple[list[tuple[_Rows, _Ints, _Ints]], list[bool]]:
        """``found`` (per run: rows, first position, count per key) less the capped keys held by more than ``cap`` rows, and which keys those are."""
        delta = self._delta
        held = sum((counts for _, _, counts in found), np.zeros(len(hashes), dtype=np.int64))
        if delta:
            held = held + np.fromiter(
                (len(delta.get(h, ())) for h in hashes.tolist()), dtype=np.int64, count=len(hashes)
            )
        over = np.asarray(capped, dtype=bool) & (held > cap)
        if not over.any():
            return found, []
        return [(run_r, lo, np.where(over, 0, counts)) for run_r, lo, counts in found], over.tolist()

    def live(self, row: int) -> bool:
        """Whether the row's statement counts now (neither superseded, withdrawn nor refused)."""
        return bool(self._live[row])

    def key(self, row: int) -> StatementKey:
        return (self._issuers[self._row_issuer[row]], self._row_seq[row])

    def names_nobody(self, party: PartyKey) -> bool:
        """True only when no statement the store holds now, current or not, names ``party``.

        For Lookup, which can then answer from memory. The store's position is read first
        (``index_state``, as ``refresh`` starts with); the proof holds when the index is at
        that position or past it, since every statement the store indexes under an
        identifier has a row under that identifier's key from the change that indexed it on
        (within an epoch rows are only marked absent, never taken out of the keys), and no
        key of the index hashes like ``party``'s (a collision can only answer False).

        False means "ask the store": the index holds the key, is behind (it is not brought
        up to date here: that can be a long read), or is busy in another thread.
        """
        state = self._store.index_state()
        wanted = _key_hash(id_key(party))
        # never wait for the lock: a build or a long tail holds it, and this call is
        # meant to be quicker than asking the store
        if not self._lock.acquire(blocking=False):
            return False
        try:
            if state.epoch != self._epoch or state.generation > self._generation:
                return False
            if wanted in self._delta:
                return False
            for run_h, _ in self._runs:
                at = int(np.searchsorted(run_h, wanted))
                if at < len(run_h) and int(run_h[at]) == wanted:
                    return False
            return True
        finally:
            self._lock.release()

    def form(self, row: int) -> PartyForm | None:
        """The matching form of a row (decoded once, then cached); None: it has none to score.

        A statement indexed without a stored form (stored before v9, until ``borderx store
        rebuild-index``, or by an indexer that makes none) has its party read from its body.
        """
        with self._lock:
            cached = self._forms.get(row)
            if cached is not None:
                self._forms.move_to_end(row)
                return cached
            data = bytes(self._blob[self._form_start[row] : self._form_start[row + 1]])
            key = (self._issuers[self._row_issuer[row]], self._row_seq[row])
        form = self._form_from_body(key) if not data else _loaded(data, key)
        if form is None:
            return None
        with self._lock:
            self._forms[row] = form
            if len(self._forms) > _FORM_CACHE:
                self._forms.popitem(last=False)
        return form

    def _form_from_body(self, key: StatementKey) -> PartyForm | None:
        stored = self._store.get(*key)
        body = None if stored is None else stored.envelope.body
        if stored is None or body is None:
            return None
        try:
            party = party_of_body(BodyType(stored.envelope.header.body_type), body)
        except (InvalidArgument, ValueError):
            return None  # signed evidence that does not parse is never screened
        return None if party is None else form_of_party(party)

    def survivors(
        self,
        requests: Sequence[tuple[Sequence[int], PartyForm]],
        threshold: float,
        thresholds: MatchThresholds,
    ) -> list[list[int]]:
        """Per (candidate rows, query): the rows that count now (live) and may reach ``threshold``.

        These are the ones to score in full: ``names.may_reach_by_name`` for every
        candidate of a whole batch at once, on the names parsed when each row was added.
        The place penalties (``names.place_penalty``, on interned ids; a postcode hash
        collision only makes the bound looser) in numpy over the rows' columns, then
        ``rapidfuzz.process.cpdist`` of each query name's compact and sorted compact forms
        against its candidates' names, then of ``token_sort_ratio`` only for the pairs past
        the distinctive cutoff (each distinct pair of texts once: the candidates that one
        key lists mostly bear the same name). The same arithmetic in the same order as the scalar bound,
        so the same rows survive. A row that may share an identifier or contact with its
        query, or whose names could not be read so, is always kept (and scored in full).
        Each list in the order given.
        """
        sizes = [len(rows) for rows, _ in requests]
        if not sum(sizes):
            return [[] for _ in requests]
        with self._lock:
            places = self._places
            # a text no row holds gets an id no row has (-1): unequal to all, as the text is
            q_country = np.array(
                [places.get(q.country, -1) if q.country else 0 for _, q in requests], dtype=np.int32
            )
            q_city = np.array([places.get(q.city, -1) if q.city else 0 for _, q in requests], dtype=np.int32)
            q_postcode = np.array([_postcode_hash(q.postcode) for _, q in requests], dtype=np.int64)
            q_keyed = np.array([bool(q.ids or q.emails or q.phones) for _, q in requests], dtype=bool)
            asker = np.repeat(np.arange(len(requests)), sizes)  # the request of each candidate
            r = np.fromiter((row for rows, _ in requests for row in rows), dtype=np.int64, count=len(asker))
            live = np.frombuffer(self._live, dtype=np.uint8)[r] != 0
            r, asker = r[live], asker[live]
            qc, qci, qp = q_country[asker], q_city[asker], q_postcode[asker]
            country = np.frombuffer(self._row_country, dtype=np.int32)[r]
            city = np.frombuffer(self._row_city, dtype=np.int32)[r]
            postcode = np.frombuffer(self._row_postcode, dtype=np.int64)[r]
            # as names.place_penalty takes them, added in the same order
            other_city = (qci != 0) & (city != 0) & (city != qci)
            penalty = np.where((qc != 0) & (country != 0) & (country != qc), thresholds.country_penalty, 0.0)
            penalty = penalty + np.where(other_city & (country == qc), thresholds.city_penalty, 0.0)
            penalty = penalty + np.where(
                (qp != 0) & (postcode != 0) & (postcode != qp) & ~other_city, thresholds.postcode_penalty, 0.0
            )
            needed = threshold + penalty - 0.001
            lit = np.frombuffer(self._row_light, dtype=np.uint8)[r] != 0
            shares = (np.frombuffer(self._row_keyed, dtype=np.uint8)[r] != 0) & q_keyed[asker]
            keep = shares | ((needed <= 1.0) & (~lit | (needed <= 0.0)))
            # the rest are decided by their names: 0 < needed <= 1, names read
            todo = np.flatnonzero(~keep & (needed <= 1.0))
            if len(todo):
                self._by_names(todo, r, asker=asker, needed=needed, keep=keep, requests=requests)
            out: list[int] = r[keep].tolist()
            kept = np.bincount(asker[keep], minlength=len(requests)).tolist()
        result: list[list[int]] = []
        at = 0
        for n in kept:
            result.append(out[at : at + n])
            at += n
        return result

    def _by_names(
        self,
        todo: npt.NDArray[np.intp],
        r: npt.NDArray[np.int64],
        *,
        asker: npt.NDArray[np.intp],
        needed: npt.NDArray[np.float64],
        keep: npt.NDArray[np.bool_],
        requests: Sequence[tuple[Sequence[int], PartyForm]],
    ) -> None:
        """Mark in ``keep`` the candidates ``todo`` whose names may reach what each needs (the name loop of the bound)."""
        # every (query name, candidate name) pair of each candidate: candidate names by their
        # rows' ranges, each repeated for each name of the candidate's query
        rows = r[todo]
        lo = np.frombuffer(self._name_start, dtype=np.int64)[rows]
        n = np.frombuffer(self._name_start, dtype=np.int64)[rows + 1] - lo
        # the queries' names in one list: request a's are from q_first[a], q_first[a] + nq[a]
        queries = [name for _, q in requests for name in q.names]
        nq_of = np.array([len(q.names) for _, q in requests], dtype=np.int64)
        q_first = np.cumsum(nq_of) - nq_of
        nq = nq_of[asker[todo]]
        per = n * nq  # pairs of each candidate
        total = int(per.sum())
        if not total:
            return
        ends = np.cumsum(per)
        owner = np.repeat(np.arange(len(todo)), per)  # which of ``todo`` each pair is of
        within = np.arange(total) - np.repeat(ends - per, per)
        name = lo[owner] + within % n[owner]  # the candidate's name of each pair
        query = q_first[asker[todo][owner]] + within // n[owner]  # the query's name of each pair
        distinct = np.maximum(
            self._pair_scores([q.compact for q in queries], query, self._name_compact, name, fuzz.ratio),
            self._pair_scores(
                [q.sorted_compact for q in queries], query, self._name_sorted, name, fuzz.ratio
            ),
        )
        # 0.8 × distinctive + 0.2 × whole (at most 100): the distinctive ratio must reach this first
        need = needed[todo]
        cutoff = (need * 100.0 - 20.0) / 0.8
        past = np.flatnonzero(distinct >= cutoff[owner])
        if not len(past):
            return
        whole = self._pair_scores(
            [q.full for q in queries], query[past], self._name_full, name[past], fuzz.token_sort_ratio
        )
        reached = (0.8 * distinct[past] + 0.2 * whole) / 100.0 >= need[owner[past]]
        keep[todo[owner[past[reached]]]] = True

    def _pair_scores(
        self,
        query_texts: list[str],
        query: npt.NDArray[np.int64],
        column: array[int],
        name: npt.NDArray[np.int64],
        scorer: Callable[..., float],
    ) -> npt.NDArray[np.float64]:
        """``scorer(query_texts[query[j]], the text of column[name[j]])`` for every pair j, each distinct pair of texts scored once."""
        local: dict[str, int] = {}
        left = np.array([local.setdefault(t, len(local)) for t in query_texts], dtype=np.int64)[query]
        width = max(len(self._texts), 1)
        pairs, where = np.unique(
            left * width + np.frombuffer(column, dtype=np.int32)[name], return_inverse=True
        )
        texts = list(local)
        scores = process.cpdist(
            [texts[i] for i in (pairs // width).tolist()],
            self._texts.take((pairs % width).tolist()),
            scorer=scorer,
            dtype=np.float64,
            workers=1,
        )
        return scores[where]

    # ------------------------------------------------------------ figures

    def __len__(self) -> int:
        return len(self._row_seq)

    def nbytes(self) -> int:
        """Bytes held by the index's arrays and buffers (not the decoded-form cache)."""
        with self._lock:
            total = sum(h.nbytes + r.nbytes for h, r in self._runs)
            total += sum(rows.itemsize * len(rows) for rows in self._row_of)
            for column in (
                self._row_issuer,
                self._row_seq,
                self._form_start,
                self._row_country,
                self._row_city,
                self._row_postcode,
                self._name_start,
                self._name_compact,
                self._name_sorted,
                self._name_full,
            ):
                total += column.itemsize * len(column)
            total += len(self._live) + len(self._present) + len(self._row_keyed) + len(self._blob)
            total += len(self._row_light) + self._texts.nbytes()
            total += sum(len(k) + 60 for k in self._places)  # the interned place texts
            total += sum(len(rows) * 8 + 100 for rows in self._delta.values())
        return total
