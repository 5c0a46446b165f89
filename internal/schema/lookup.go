package schema

// Lookups by name over the model. Schemas are small, so these scan the
// slices; they return nil when nothing has the name.

// Struct returns the struct named name.
func (f *File) Struct(name string) *Struct {
	return find(f.Structs, name, func(s *Struct) string { return s.Name })
}

// Enum returns the enum named name.
func (f *File) Enum(name string) *Enum {
	return find(f.Enums, name, func(e *Enum) string { return e.Name })
}

// Message returns the message named name.
func (f *File) Message(name string) *Message {
	return find(f.Messages, name, func(m *Message) string { return m.Name })
}

// MessageByID returns the message with id, or nil.
func (f *File) MessageByID(id uint8) *Message {
	for _, m := range f.Messages {
		if m.ID == id {
			return m
		}
	}
	return nil
}

// Call returns the call named name.
func (f *File) Call(name string) *Call {
	return find(f.Calls, name, func(c *Call) string { return c.Name })
}

// Field returns the field of s with Go name name.
func (s *Struct) Field(name string) *Field {
	return find(s.Fields, name, func(f *Field) string { return f.Name })
}

// IsStream reports whether c answers with a stream rather than one response.
func (c *Call) IsStream() bool { return c.Stream != nil }

// Answer returns the message c answers with: its Response or its Stream.
func (c *Call) Answer() *Message {
	if c.Stream != nil {
		return c.Stream
	}
	return c.Response
}

func find[T any](list []T, name string, nameOf func(T) string) T {
	for _, x := range list {
		if nameOf(x) == name {
			return x
		}
	}
	var zero T
	return zero
}
