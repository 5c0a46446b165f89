package codegen

import "regexp"

// derefSlice matches msgp's slicing of a dereferenced pointer without
// parentheses, e.g. "*z.Blobs[i][:n]": msgp v1.6.5 emits it when a field
// with a limit= tag holds bytes behind a pointer (*[]byte, []*[]byte), and it
// does not compile ("cannot slice ... of type *[]byte"). "*x[:n]" is never
// valid Go (slicing never yields a pointer), so the rewrite to "(*x)[:n]"
// cannot change code that compiles.
var derefSlice = regexp.MustCompile(`\*((?:z|za\d+|zb\d+)(?:\.\w+|\[\w+\])*)\[:(\w+)\]`)

// fixDerefSlicing repairs msgp's unparenthesised pointer slicing in body.
func fixDerefSlicing(body []byte) []byte {
	return derefSlice.ReplaceAll(body, []byte("(*$1)[:$2]"))
}
