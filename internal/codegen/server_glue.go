package codegen

import (
	"github.com/dave/jennifer/jen"

	"github.com/mgmtgen/mgmtgen/internal/schema"
)

// The dispatch table's entries: one runtime constructor per call
// (server.Unary or server.Streaming), closed over the typed Handler h, e.g.
//
//	server.Unary(server.UnaryCall[StatusRequestPayload, StatusResponsePayload]{
//		Check:    checkStatusResponsePayload,
//		Handle:   h.Status,
//		Name:     "Status",
//		Request:  MsgStatusRequest,
//		Response: MsgStatusResponse,
//		SetError: func(resp *StatusResponsePayload, text string) { resp.Err = text },
//	})
//
// Decoding, interceptors, nil-response defaults, error-field mapping and the
// outgoing limit check run in the runtime.

// payloadType is the type argument for a message's payload: its struct, or
// server.NoPayload for a message without one.
func payloadType(name string) *jen.Statement {
	if name == "" {
		return jen.Qual(serverPkg, "NoPayload")
	}
	return jen.Id(name)
}

// handleFunc is the Handle of c's entry: h's method value when its
// signature matches the runtime's, else a closure adapting it.
func handleFunc(c *schema.Call, n callNames) jen.Code {
	ctx := jen.Id("ctx").Qual("context", "Context")
	req := jen.Id("req").Add(ptr(n.ReqType))
	args := []jen.Code{jen.Id("ctx")}
	if n.ReqType == "" {
		req = jen.Id("_").Op("*").Qual(serverPkg, "NoPayload")
	} else {
		args = append(args, jen.Id("req"))
	}
	if c.Stream != nil {
		out := jen.Id("out").Op("*").Qual(serverPkg, "Sender").Index(payloadType(n.FrameType))
		sender := jen.Id("out")
		if n.FrameType == "" {
			sender = jen.Id(n.senderImpl).Values(jen.Id("out"))
		}
		return jen.Func().Params(ctx, req, out).Error().Block(
			jen.Return(jen.Id("h").Dot(n.Method).Call(append(args, sender)...)))
	}
	if n.ReqType != "" && n.RespType != "" {
		return jen.Id("h").Dot(n.Method)
	}
	respType := jen.Op("*").Add(payloadType(n.RespType))
	call := jen.Id("h").Dot(n.Method).Call(args...)
	ret := jen.Return(call)
	if n.RespType == "" {
		ret = jen.Return(jen.Nil(), call)
	}
	return jen.Func().Params(ctx, req).Params(respType, jen.Error()).Block(ret)
}

// tableEntry is c's entry in the dispatch table.
func tableEntry(c *schema.Call, nm *names, lc *limitChecks) jen.Code {
	n := nm.Call(c)
	fields := jen.Dict{
		jen.Id("Name"):    jen.Lit(n.Method),
		jen.Id("Request"): jen.Id(n.MsgRequest),
		jen.Id("Handle"):  handleFunc(c, n),
	}
	if c.Access != nil {
		fields[jen.Id("Access")] = jen.Lit(c.Access.Name)
	}
	if c.Stream != nil {
		fields[jen.Id("Frame")] = jen.Id(n.MsgResponse)
		if c.LastWhen != nil {
			fields[jen.Id("Last")] = jen.Func().Params(jen.Id("f").Add(ptr(n.FrameType))).Bool().
				Block(jen.Return(jen.Id("f").Dot(c.LastWhen.Name)))
		}
		if check := lc.checkFunc(c.Stream.Payload); check != "" {
			fields[jen.Id("Check")] = jen.Id(check)
		}
		spec := jen.Qual(serverPkg, "StreamCall").Index(jen.List(payloadType(n.ReqType), payloadType(n.FrameType)))
		return jen.Qual(serverPkg, "Streaming").Call(spec.Values(fields))
	}
	fields[jen.Id("Response")] = jen.Id(n.MsgResponse)
	if c.ErrorField != nil {
		fields[jen.Id("SetError")] = jen.Func().Params(jen.Id("resp").Add(ptr(n.RespType)), jen.Id("text").String()).
			Block(jen.Id("resp").Dot(c.ErrorField.Name).Op("=").Id("text"))
	}
	if check := lc.checkFunc(c.Response.Payload); check != "" {
		fields[jen.Id("Check")] = jen.Id(check)
	}
	spec := jen.Qual(serverPkg, "UnaryCall").Index(jen.List(payloadType(n.ReqType), payloadType(n.RespType)))
	return jen.Qual(serverPkg, "Unary").Call(spec.Values(fields))
}

// genPayloadlessSender emits, for a stream whose frames have no payload, the
// adapter from the runtime's Sender to the generated sender interface.
func genPayloadlessSender(n callNames, file *jen.File) {
	file.Type().Id(n.senderImpl).Struct(jen.Id("out").Op("*").Qual(serverPkg, "Sender").Index(jen.Qual(serverPkg, "NoPayload"))).Line()
	file.Func().Params(jen.Id("x").Id(n.senderImpl)).Id("Send").Params().Error().
		Block(jen.Return(jen.Id("x").Dot("out").Dot("Send").Call(jen.Nil()))).Line()
	file.Func().Params(jen.Id("x").Id(n.senderImpl)).Id("Ready").Params().Error().
		Block(jen.Return(jen.Id("x").Dot("out").Dot("Ready").Call())).Line()
}
