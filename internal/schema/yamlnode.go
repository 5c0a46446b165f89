package schema

import (
	"fmt"
	"math"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// This file holds the strict YAML node readers decode is built from: every
// value must have the YAML type its key wants (no "yes" for true, no "0xA0"
// string for an id), every mapping key must be known, and every error names
// the node's position.

const (
	tagStr   = "!!str"
	tagInt   = "!!int"
	tagBool  = "!!bool"
	tagNull  = "!!null"
	tagFloat = "!!float"
)

// bigInt matches integers too large for YAML's int, which it reads as floats.
var bigInt = regexp.MustCompile(`^[-+]?[0-9_]+$`)

// decoder reads YAML nodes into raw declarations, reporting into r.
type decoder struct {
	path string
	r    *reporter
	// hinted records the keys suggested for misspelt ones ("tpye" -> "type"),
	// per mapping, so that the key is not reported missing as well.
	hinted map[hint]bool
}

type hint struct {
	mapping *yaml.Node
	key     string
}

func (d *decoder) pos(n *yaml.Node) Pos {
	return Pos{File: d.path, Line: n.Line, Col: n.Column}
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.r.errorf(d.pos(n), format, args...)
}

// describe names a node's YAML type (and value, for scalars) for messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		switch n.Tag {
		case tagStr:
			return fmt.Sprintf("string %q", n.Value)
		case tagInt:
			return "integer " + n.Value
		case tagBool:
			return "bool " + n.Value
		case tagFloat:
			return "float " + n.Value
		case tagNull:
			return "null"
		}
		return fmt.Sprintf("%s %q", n.Tag, n.Value)
	}
	return "nothing"
}

// mapping calls fn for each key/value pair of n, a mapping described as what
// in messages. Keys must be strings, unique, and, when known is not nil, one
// of known. It reports false when n is not a mapping.
func (d *decoder) mapping(n *yaml.Node, what string, known []string, fn func(key string, k, v *yaml.Node)) bool {
	if !d.isKind(n, yaml.MappingNode, what+" must be a mapping") {
		return false
	}
	seen := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag != tagStr {
			d.errorf(k, "keys in %s must be strings, got %s", what, describe(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.errorf(k, "duplicate key %q in %s (first at %s)", k.Value, what, d.pos(first))
			continue
		}
		seen[k.Value] = k
		if known != nil && !contains(known, k.Value) {
			s, best := suggest(k.Value, known)
			d.errorf(k, "unknown key %q in %s%s", k.Value, what, s)
			if best != "" {
				d.hinted[hint{n, best}] = true
			}
			continue
		}
		if v.Kind == yaml.AliasNode {
			quote := ""
			if k.Value == "type" {
				quote = quoteHint("*" + v.Value)
			}
			d.errorf(v, "yaml aliases are not supported%s", quote)
			d.hinted[hint{n, k.Value}] = true // reported: not missing as well
			continue
		}
		fn(k.Value, k, v)
	}
	return true
}

// isKind reports whether n has the wanted kind, and reports msg otherwise.
func (d *decoder) isKind(n *yaml.Node, kind yaml.Kind, msg string) bool {
	if n.Kind == kind {
		return true
	}
	d.errorf(n, "%s, got %s", msg, describe(n))
	return false
}

// isNull reports whether n is an empty value (key present, nothing after it).
func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == tagNull
}

// str reads a string value for key.
func (d *decoder) str(n *yaml.Node, key string) rawStr {
	if n.Kind != yaml.ScalarNode || n.Tag != tagStr {
		d.errorf(n, "%s must be a string, got %s", key, describe(n))
		return rawStr{Pos: d.pos(n)}
	}
	return rawStr{V: n.Value, Pos: d.pos(n), Set: true}
}

// integer reads an integer value for key (any YAML 1.2 integer form:
// decimal, 0x.., 0o.., 0b..).
func (d *decoder) integer(n *yaml.Node, key string) rawInt {
	v, ok := d.int64(n, key)
	return rawInt{V: v, Pos: d.pos(n), Set: ok}
}

func (d *decoder) int64(n *yaml.Node, key string) (int64, bool) {
	if n.Kind == yaml.ScalarNode && n.Tag == tagFloat && bigInt.MatchString(n.Value) {
		d.errorf(n, "%s %s is out of range (at most %d)", key, n.Value, int64(math.MaxInt64))
		return 0, false
	}
	if n.Kind != yaml.ScalarNode || n.Tag != tagInt {
		d.errorf(n, "%s must be an integer, got %s", key, describe(n))
		return 0, false
	}
	var v int64
	if err := n.Decode(&v); err != nil {
		d.errorf(n, "%s %s is out of range (at most %d)", key, n.Value, int64(math.MaxInt64))
		return 0, false
	}
	return v, true
}

// boolean reads a true/false value for key.
func (d *decoder) boolean(n *yaml.Node, key string) rawBool {
	if n.Kind != yaml.ScalarNode || n.Tag != tagBool {
		d.errorf(n, "%s must be true or false, got %s", key, describe(n))
		return rawBool{Pos: d.pos(n)}
	}
	var v bool
	if err := n.Decode(&v); err != nil {
		d.errorf(n, "%s must be true or false, got %s", key, describe(n))
		return rawBool{Pos: d.pos(n)}
	}
	return rawBool{V: v, Pos: d.pos(n), Set: true}
}

// need reports a missing required key of the mapping n, described as what.
// A key that was present with a bad value was reported already.
func (d *decoder) need(n *yaml.Node, what, key string, pos Pos) {
	if pos.Line == 0 && !d.hinted[hint{n, key}] {
		d.errorf(n, "missing key %q in %s", key, what)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// suggest returns a " (did you mean ...?)" hint naming the candidate closest
// to s, and that candidate, or a list of the candidates when none is close.
// Close is one edit away for names of up to 4 bytes, two for longer ones
// ("foo" is not "bool"); of candidates equally close, the one nearest s in
// length wins ("unit64": "uint64", not "int64").
func suggest(s string, candidates []string) (text, best string) {
	bestDist := 3
	if len(s) <= 4 {
		bestDist = 2
	}
	for _, c := range candidates {
		d := editDistance(strings.ToLower(s), strings.ToLower(c))
		if d >= len(s) {
			continue
		}
		if d < bestDist || d == bestDist && best != "" && lenGap(c, s) < lenGap(best, s) {
			best, bestDist = c, d
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best), best
	}
	return " (want one of " + strings.Join(candidates, ", ") + ")", ""
}

func lenGap(a, b string) int { return max(len(a)-len(b), len(b)-len(a)) }

// editDistance is the optimal string alignment distance between a and b, in
// bytes: insertions, deletions, substitutions and transpositions of adjacent
// bytes ("strnig" is one edit from "string").
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
