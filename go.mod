module github.com/mgmtgen/mgmtgen

go 1.26

require (
	github.com/tinylib/msgp v1.6.5
	gopkg.in/yaml.v3 v3.0.1
)

require github.com/philhofer/fwd v1.2.0 // indirect
