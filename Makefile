# Segments — common tasks. See README.md.
.PHONY: up down test build release protos format

up:        ## build and start the daemons (data in ./data)
	dev/up.sh

down:      ## stop the daemons started by `make up`
	dev/down.sh

test:      ## install dependencies, check generated code, build, run every test
	dev/test.sh

build:
	swift build

release:
	swift build -c release

protos:    ## regenerate Sources/SegmentsWire/Generated from Protos/
	dev/generate-protos.sh
