package codegen

import "testing"

func TestFixDerefSlicing(t *testing.T) {
	for in, want := range map[string]string{
		"*z.Blobs[za0001] = *z.Blobs[za0001][:zb0002]": "*z.Blobs[za0001] = (*z.Blobs[za0001])[:zb0002]",
		"*z.P = *z.P[:zb0001]":                         "*z.P = (*z.P)[:zb0001]",
		"z.B = z.B[:zb0001]":                           "z.B = z.B[:zb0001]",
		"x = a * z.N[:2]":                              "x = a * z.N[:2]", // not msgp's shape: untouched
	} {
		if got := string(fixDerefSlicing([]byte(in))); got != want {
			t.Errorf("%q -> %q, want %q", in, got, want)
		}
	}
}
