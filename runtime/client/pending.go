package client

// pendingSet is the connection's pending calls by seq (under c.mu). A
// connection mostly has one call pending at a time: that one sits in a
// slot of its own, so the common round trip registers, finds and removes
// its call without a map operation; the map holds the others, made when a
// second call is pending at once.
type pendingSet struct {
	one    *call // a pending call, or nil
	oneSeq uint64
	more   map[uint64]*call // the others; nil until needed
}

func (p *pendingSet) get(seq uint64) *call {
	if p.one != nil && p.oneSeq == seq {
		return p.one
	}
	if p.more == nil {
		return nil
	}
	return p.more[seq]
}

// put adds cl as seq's call; seq has none.
func (p *pendingSet) put(seq uint64, cl *call) {
	if p.one == nil {
		p.one, p.oneSeq = cl, seq
		return
	}
	if p.more == nil {
		p.more = make(map[uint64]*call)
	}
	p.more[seq] = cl
}

func (p *pendingSet) del(seq uint64) {
	if p.one != nil && p.oneSeq == seq {
		p.one = nil
		return
	}
	if p.more != nil {
		delete(p.more, seq)
	}
}

func (p *pendingSet) len() int {
	n := len(p.more)
	if p.one != nil {
		n++
	}
	return n
}

// other returns a pending call other than skip, nil if none.
func (p *pendingSet) other(skip *call) *call {
	if p.one != nil && p.one != skip {
		return p.one
	}
	if len(p.more) == 0 {
		return nil // ranging over a map costs even when it is empty
	}
	for _, cl := range p.more {
		if cl != skip {
			return cl
		}
	}
	return nil
}

// all calls yield with each pending call, in no particular order.
func (p *pendingSet) all(yield func(seq uint64, cl *call)) {
	if p.one != nil {
		yield(p.oneSeq, p.one)
	}
	for seq, cl := range p.more {
		yield(seq, cl)
	}
}

// clear empties the set.
func (p *pendingSet) clear() { *p = pendingSet{} }
