module github.com/mgmtgen/mgmtgen

go 1.26

require github.com/tinylib/msgp v1.6.5

require (
	github.com/dave/jennifer v1.7.1 // indirect
	github.com/philhofer/fwd v1.2.0 // indirect
	github.com/rogpeppe/go-internal v1.16.0 // indirect
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
)
