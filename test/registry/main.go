// Command registry serves criserver's test images from a registry on
// loopback, for trying the daemon by hand and for the conformance run:
//
//	go run ./test/registry -addr 127.0.0.1:5000
//	criserver serve --registry-mirror docker.io=http://127.0.0.1:5000
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/criserver/criserver/internal/testimage"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:5000", "loopback address to listen on")
	flag.Parse()
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	host := lis.Addr().String()
	srv := &http.Server{Handler: registry.New(registry.Logger(log.New(os.Stderr, "registry: ", 0)))}
	go func() { log.Fatal(srv.Serve(lis)) }()
	img, err := testimage.Busybox()
	if err != nil {
		log.Fatal(err)
	}
	r := &testimage.Registry{Host: host}
	for _, repo := range []string{"library/busybox"} {
		if _, err := r.Push(repo, "latest", img); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Printf("serving test images on http://%s\n", host)
	select {}
}
