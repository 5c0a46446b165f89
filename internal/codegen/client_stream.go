package codegen

import (
	"github.com/dave/jennifer/jen"

	"github.com/mgmtgen/mgmtgen/internal/schema"
)

// genClientStreamCall emits the call's client.StreamCall (frame reset and
// last frame) and its method, one call to client.OpenTyped.
func genClientStreamCall(c *schema.Call, n callNames, nm *names, file *jen.File) {
	frame := payloadOrNone(n.FrameType)
	fields := jen.Dict{}
	if reset := streamReset(c, n); reset != nil {
		fields[jen.Id("Reset")] = reset
	}
	if f := streamBytes(c); f != nil {
		fields[jen.Id("Bytes")] = jen.Func().Params(jen.Id("p").Op("*").Id(n.FrameType)).Op("*").Index().Byte().
			Block(jen.Return(jen.Op("&").Id("p").Dot(f.Name)))
		fields[jen.Id("BytesKey")] = jen.Lit(f.Key)
	}
	if c.LastWhen != nil {
		fields[jen.Id("Last")] = fieldFunc(frame, jen.Bool(), c.LastWhen.Name)
	}
	genCallVar(n, "StreamCall", frame, fields, file)

	params, reqArg, open := clientRequest(n, "OpenTyped")
	file.Add(docComment(n.Method, c.Doc, "opens a stream of "+c.Stream.Name+" frames on a connection of its own."))
	file.Func().Params(jen.Id("c").Op("*").Id(nm.Client)).Id(n.Method).Params(params...).Params(jen.Op("*").Id(n.Stream), jen.Error()).
		Block(jen.Return(open.Call(jen.Id("ctx"), jen.Id("c").Dot("conn"), jen.Id(n.clientInfo), reqArg))).Line()
}

// streamReset is the StreamCall.Reset of a frame type with byte slices: the
// zero value keeping their capacity, so a loop over large chunks reuses one
// buffer. Nil when the zero value will do.
func streamReset(c *schema.Call, n callNames) *jen.Statement {
	if n.FrameType == "" {
		return nil
	}
	keep := jen.Dict{}
	for _, f := range c.Stream.Payload.Fields {
		if f.Type.Kind == schema.KindBytes {
			keep[jen.Id(f.Name)] = jen.Id("p").Dot(f.Name).Index(jen.Empty(), jen.Lit(0))
		}
	}
	if len(keep) == 0 {
		return nil
	}
	return jen.Func().Params(jen.Id("p").Op("*").Id(n.FrameType)).
		Block(jen.Op("*").Id("p").Op("=").Id(n.FrameType).Values(keep))
}

// streamBytes is the frame type's one bytes field, which RecvInto decodes
// in place (StreamCall.Bytes); nil when it has none or several.
func streamBytes(c *schema.Call) *schema.Field {
	if c.Stream == nil || c.Stream.Payload == nil {
		return nil
	}
	var one *schema.Field
	for _, f := range c.Stream.Payload.Fields {
		if f.Type.Kind == schema.KindBytes {
			if one != nil {
				return nil
			}
			one = f
		}
	}
	return one
}

// genClientStreamType emits the client stream type: an alias of
// client.TypedStream, whose Recv, RecvInto, Close and All it has.
func genClientStreamType(c *schema.Call, n callNames, file *jen.File) {
	end := "when the server ends the stream"
	if c.LastWhen != nil {
		end = "after the frame with " + c.LastWhen.Name + " true, or " + end
	}
	file.Comment(comment(n.Stream + " is the client's end of the " + n.Method + " stream (its frames are " + n.MsgResponse + " messages). Recv returns its frames, then io.EOF " + end + ". Close it when done."))
	frame := payloadOrNone(n.FrameType)
	file.Type().Id(n.Stream).Op("=").Qual(clientPkg, "TypedStream").Types(frame.Clone(), jen.Op("*").Add(frame)).Line()
}
