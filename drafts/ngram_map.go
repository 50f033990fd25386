package drafts

import (
	"fmt"
	"math"
	"slices"

	"github.com/speclab/speclab/terms"
)

// Constants of common/ngram-map.{h,cpp}.
const (
	mapHashSlots = 1 << 18    // COMMON_NGRAM_HASH_MAP_SIZE
	mapLCG       = 2654435761 // LCG_FACTOR
	mapMaxValues = 4          // COMMON_NGRAM_MAX_VALUES
	mapMaxCount  = 16380      // COMMON_NGRAM_MAX_VALUE_COUNT
)

// Details of an empty NgramMap draft whose Reason is NoMatch (see
// NgramMap.Detail).
const (
	MapNoKey        = "no-key"         // the key n-gram was not found
	MapDeadKey      = "dead-key"       // the key's last draft had 0 tokens accepted
	MapBelowMinHits = "below-min-hits" // k4v: the key was seen fewer than MinHits times
	MapNotDominant  = "not-dominant"   // k4v: the top m-gram is not twice as frequent as the others
)

// NgramMap is llama.cpp's ngram-map-k (K4V false) and ngram-map-k4v (K4V
// true), common_ngram_map_draft/_accept/_begin, with one map per sequence.
//
// The key is the last N tokens of History. It is looked up in a 2^18-slot
// hash table of positions (LCG hash with multiplier 2654435761, the slot's
// n-gram compared token by token); failing that, the positions not hashed
// yet are scanned backwards; then those positions are hashed, a slot keeping
// the first position stored in it. A match starts at a position from 1 to
// cur_len-N-M-1 (at least M+1 tokens follow it in llama.cpp's prompt; one
// more when it is found through the table). Because a
// slot keeps its first position, the match is the latest occurrence only
// within the batch first hashed (the prompt, at the first call); later
// occurrences of a key already hashed are not used. Positions from
// size_last_begin-N-M to size_last_begin (the end of the prompt) are never
// hashed nor scanned, exactly as in llama.cpp.
//
// Every matched key gets an entry with a hit count and, per value, the
// tokens accepted the last time it drafted (starting at M). ngram-map-k
// drafts min(M, accepted last time) tokens that follow the match (MinHits is
// not checked). ngram-map-k4v counts the distinct M-grams (at most 4) that
// followed the key's occurrences from the last statistics position up to
// the match (the match itself is counted again at each call), and drafts
// only when the key was hit at least MinHits times and the most frequent
// M-gram's count is at least twice the sum of the others; like llama.cpp it
// then drafts the tokens after the match, not the most frequent M-gram, for
// min(M, accepted last time by that M-gram's slot) tokens. A key whose last
// draft had 0 tokens accepted drafts nothing more until Begin cleans it up
// or Reset.
//
// Empty drafts: NoRoom when Request.Room <= 0; NoHistory while cur_len <
// 2N+M, i.e. len(History) <= 2N+M (72 with the defaults: the first draft may
// come at 73); NoMatch otherwise, with Detail saying which case.
//
// llama.cpp's scans are already incremental. Where it walks every key, or
// every position up to the match for k4v's statistics, this port uses exact
// indexes (key content → entries, n-gram → earlier occurrences) with the
// same results. Changing a field between calls resets the proposer.
type NgramMap struct {
	N, M, MinHits int
	K4V           bool

	cfg   [4]int
	track seqTrack
	begun bool

	sizeLastBegin int      // size_last_begin
	idxLastCheck  int      // idx_last_check
	keyMap        []uint32 // key_map
	keyMapLastIdx uint32   // key_map_last_idx
	keys          []mapKey // keys

	keyIndex      map[uint64][]int32 // content hash of a key → offsets in keys, ascending
	keyIndexDirty bool
	chain         chainIndex // k4v: earlier occurrences of each n-gram
	occ           []int

	lastCreated bool // last_draft_created
	lastKey     int  // last_draft_key_idx
	lastValue   int  // last_draft_value_idx
	lastLen     int  // tokens returned by the last Draft
	detail      string
}

type mapKey struct {
	idx    int // key_idx
	stat   int // stat_idx
	num    int // key_num
	values [mapMaxValues]mapValue
}

type mapValue struct {
	idx      int // value_idx (0: unused)
	num      int // value_num
	accepted int // n_accepted
}

// Name returns "ngram-map-k4v" when K4V is set, else "ngram-map-k".
func (p *NgramMap) Name() string {
	if p.K4V {
		return terms.NgramMapK4V
	}
	return terms.NgramMapK
}

func (p *NgramMap) check() error { return checkMap(p.Name(), p.N, p.M, p.MinHits) }

func (p *NgramMap) config() [4]int {
	k4v := 0
	if p.K4V {
		k4v = 1
	}
	return [4]int{p.N, p.M, p.MinHits, k4v}
}

// Detail says which case made the last Draft empty with Reason NoMatch:
// MapNoKey, MapDeadKey, MapBelowMinHits or MapNotDominant; "" otherwise.
func (p *NgramMap) Detail() string { return p.detail }

// Reset forgets the map and the history.
func (p *NgramMap) Reset() {
	if p.keyMap == nil {
		p.keyMap = make([]uint32, mapHashSlots)
	} else {
		clear(p.keyMap)
	}
	p.keyMapLastIdx = 0
	p.keys = p.keys[:0]
	if p.keyIndex == nil {
		p.keyIndex = make(map[uint64][]int32)
	} else {
		clear(p.keyIndex)
	}
	p.keyIndexDirty = false
	p.chain.reset(p.N)
	p.sizeLastBegin, p.idxLastCheck = 0, 0
	p.track = seqTrack{}
	p.begun = false
	p.lastCreated, p.lastKey, p.lastValue, p.lastLen = false, 0, 0, 0
	p.detail = ""
	p.cfg = p.config()
}

// Begin starts a request whose prompt is prompt, as llama.cpp's
// common_ngram_map_begin: when prompt is shorter than the history of the
// last draft, the hashes, keys and values that point past the kept part are
// dropped (what the server does when a reasoning block is removed), the rest
// is kept. Draft calls it by itself on the first call after Reset, so Begin
// is only needed to keep the map across requests.
func (p *NgramMap) Begin(prompt []Token) error {
	if err := p.check(); err != nil {
		return err
	}
	if p.cfg != p.config() || p.keyMap == nil {
		p.Reset()
	}
	var t seqTrack
	if _, err := t.advance(prompt); err != nil {
		return fmt.Errorf("%s: prompt: %w", p.Name(), err)
	}
	p.begin(prompt)
	p.track = t
	return nil
}

func (p *NgramMap) begin(prompt []Token) {
	size := len(prompt)
	n, m := p.N, p.M
	cleanup := p.sizeLastBegin
	if cleanup > size {
		cleanup = 0
		if size > n+m {
			cleanup = size - n - m
		}
	}
	if size < p.idxLastCheck {
		for i, k := range p.keyMap {
			if k != 0 && int(k) >= cleanup {
				p.keyMap[i] = 0
			}
		}
		p.keyMapLastIdx = 0
		if cleanup > 0 {
			p.keyMapLastIdx = uint32(cleanup - 1)
		}
		for i := len(p.keys) - 1; i >= 0; i-- {
			k := &p.keys[i]
			if k.idx >= cleanup {
				p.keys = slices.Delete(p.keys, i, i+1)
				continue
			}
			if !p.K4V {
				continue
			}
			for j := mapMaxValues - 1; j >= 0; j-- {
				if v := k.values[j]; v.idx != 0 && v.idx >= cleanup {
					copy(k.values[j:], k.values[j+1:])
					k.values[mapMaxValues-1].idx = 0
					k.values[mapMaxValues-1].num = 0
				}
			}
			if k.values[0].idx == 0 {
				p.keys = slices.Delete(p.keys, i, i+1)
			}
		}
	}
	p.idxLastCheck = size
	p.sizeLastBegin = size
	p.begun = true
	// The history may differ from here on: rebuild the exact indexes.
	p.keyIndexDirty = true
	p.chain.reset(n)
}

// prepare checks the configuration and History, resets on a new sequence and
// begins one when needed.
func (p *NgramMap) prepare(h []Token) error {
	if err := p.check(); err != nil {
		return err
	}
	if p.cfg != p.config() || p.keyMap == nil {
		p.Reset()
	}
	shrunk, err := p.track.advance(h)
	if err == nil && (shrunk || p.begun && len(h)-1 < p.idxLastCheck) {
		p.Reset()
		_, err = p.track.advance(h)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", p.Name(), err)
	}
	if !p.begun && len(h) > 0 {
		p.begin(h[:len(h)-1])
	}
	return nil
}

// mapHash is common_ngram_map_hash reduced to a slot of key_map.
func mapHash(ts []Token) uint32 {
	var h uint32
	for _, t := range ts {
		h = h*mapLCG + uint32(t)
	}
	return h % mapHashSlots
}

func (p *NgramMap) addHash(inp []Token, j int) {
	if s := mapHash(inp[j : j+p.N]); p.keyMap[s] == 0 {
		p.keyMap[s] = uint32(j)
	}
}

// Draft proposes what followed the key (the last N tokens of req.History).
func (p *NgramMap) Draft(req Request) (Draft, error) {
	h := req.History
	if err := p.prepare(h); err != nil {
		return Draft{}, err
	}
	p.lastLen, p.detail = 0, ""
	if req.Room <= 0 {
		return noDraft(p.Name(), NoRoom), nil
	}
	p.lastCreated, p.lastKey, p.lastValue = false, 0, 0
	n, m := p.N, p.M
	cur := len(h) - 1 // cur_len
	if cur < 2*n+m {
		return noDraft(p.Name(), NoHistory), nil
	}
	if cur >= math.MaxUint32 {
		return Draft{}, fmt.Errorf("%s: history of %d tokens exceeds the map's 32-bit positions", p.Name(), len(h))
	}
	p.idxLastCheck = cur
	if p.K4V {
		p.chain.extend(h) // kept current so that no call pays for a long catch-up
	}
	inp := h[:cur]
	key := h[len(h)-n:] // key_tokens
	limit := cur - n - m - 1
	begin := p.sizeLastBegin
	last := int(p.keyMapLastIdx)

	match := 0
	if k := int(p.keyMap[mapHash(key)]); k != 0 && k < limit && equalAt(inp, k, key) {
		match = k
	}
	if match == 0 && begin > n+m+1 {
		for j := begin - n - m - 1; j > last; j-- {
			if equalAt(inp, j, key) {
				match = j
				break
			}
		}
	}
	if match == 0 {
		for j := limit; j > begin && j > last; j-- {
			if equalAt(inp, j, key) {
				match = j
				break
			}
		}
	}
	if begin > n+m+1 {
		for j := begin - n - m - 1; j > last; j-- {
			p.addHash(inp, j)
		}
	}
	for j := limit; j > begin && j > last; j-- {
		p.addHash(inp, j)
	}
	p.keyMapLastIdx = max(uint32(limit), p.keyMapLastIdx)
	if match == 0 {
		p.detail = MapNoKey
		return noDraft(p.Name(), NoMatch), nil
	}

	koff := p.findKey(inp, key)
	if koff < 0 {
		k := mapKey{idx: match}
		for i := range k.values {
			k.values[i].accepted = m
		}
		p.keys = append(p.keys, k)
		koff = len(p.keys) - 1
		hk := hashTokens(key)
		p.keyIndex[hk] = append(p.keyIndex[hk], int32(koff))
	}
	k := &p.keys[koff]
	k.num = min(k.num+1, mapMaxCount)
	if !p.K4V {
		return p.emit(inp, match, min(m, k.values[0].accepted), koff, 0, req.Room), nil
	}
	if k.num < p.MinHits {
		p.detail = MapBelowMinHits
		return noDraft(p.Name(), NoMatch), nil
	}

	// The occurrences of the key from stat_idx to the match, in ascending
	// order: llama.cpp scans every position of that range.
	occ := p.occ[:0]
	for j := match; j >= k.stat && j >= 0; j = int(p.chain.prev[j]) {
		if equalAt(inp, j, key) {
			occ = append(occ, j)
		}
	}
	p.occ = occ
	for x := len(occ) - 1; x >= 0; x-- {
		vb := occ[x] + n
		iv := -1
		for v := range k.values {
			vi := k.values[v].idx
			if vi == 0 {
				k.values[v] = mapValue{idx: vb, num: 0, accepted: m}
				iv = v
				break
			}
			if equalAt(inp, vi, inp[vb:vb+m]) {
				iv = v
				break
			}
		}
		if iv >= 0 {
			k.values[iv].num = min(k.values[iv].num+1, mapMaxCount)
		}
	}
	k.stat = match

	maxOcc, slotMax := 0, 0
	for v, val := range k.values {
		if val.num > maxOcc {
			maxOcc, slotMax = val.num, v
		}
	}
	sum := 0
	for v, val := range k.values {
		if v != slotMax {
			sum += val.num
		}
	}
	if sum > 0 && maxOcc < 2*sum {
		p.detail = MapNotDominant
		return noDraft(p.Name(), NoMatch), nil
	}
	return p.emit(inp, match, min(m, k.values[slotMax].accepted), koff, slotMax, req.Room), nil
}

// findKey returns the offset of the first key whose n-gram is key, or -1.
func (p *NgramMap) findKey(inp, key []Token) int {
	if p.keyIndexDirty {
		clear(p.keyIndex)
		for o, k := range p.keys {
			if k.idx+p.N <= len(inp) {
				hk := hashTokens(inp[k.idx : k.idx+p.N])
				p.keyIndex[hk] = append(p.keyIndex[hk], int32(o))
			}
		}
		p.keyIndexDirty = false
	}
	for _, o := range p.keyIndex[hashTokens(key)] {
		if equalAt(inp, p.keys[o].idx, key) {
			return int(o)
		}
	}
	return -1
}

// emit drafts nd tokens after the match (llama.cpp marks the draft created
// even when nd is 0) and truncates them to nmax.
func (p *NgramMap) emit(inp []Token, match, nd, koff, v, nmax int) Draft {
	p.lastCreated, p.lastKey, p.lastValue = true, koff, v
	if nd <= 0 {
		p.detail = MapDeadKey
		return noDraft(p.Name(), NoMatch)
	}
	nd = min(nd, nmax)
	start := match + p.N
	p.lastLen = nd
	return Draft{Tokens: slices.Clone(inp[start : start+nd]), Source: p.Name()}
}

// Accepted records, for the key and value that drafted last, how many tokens
// were accepted: the key's next draft is at most that long.
func (p *NgramMap) Accepted(n int) {
	if p.lastLen == 0 || !p.lastCreated || p.lastKey >= len(p.keys) {
		return
	}
	p.keys[p.lastKey].values[p.lastValue].accepted = clampAccepted(n, p.lastLen)
}
