package stellar_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stellarfw/stellar-go"
)

// A handler and a middleware of your own on the node's listener, and a
// counter of your own among the node's metrics.
func ExampleApp_Handle() {
	cfg := stellar.Config{}
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.TCP.Addr = "off"
	app := stellar.New(cfg, stellar.WithLogOutput(io.Discard))

	signups := prometheus.NewCounter(prometheus.CounterOpts{Name: "myapp_signups_total", Help: "Accounts created."})
	app.Metrics.MustRegister(signups)
	app.Handle("GET /version", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		signups.Inc()
		io.WriteString(w, "1.4.0")
	}))
	app.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Served-By", app.ID())
			next.ServeHTTP(w, r)
		})
	})

	ctx := context.Background()
	if err := app.Start(ctx); err != nil {
		panic(err)
	}
	defer app.Shutdown(ctx)
	base := "http://" + app.HTTPAddr().String()

	res, err := http.Get(base + "/version")
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Println(string(body), res.Header.Get("X-Served-By") == app.ID())

	res, err = http.Get(base + "/metrics")
	if err != nil {
		panic(err)
	}
	metrics, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, line := range strings.Split(string(metrics), "\n") {
		if strings.HasPrefix(line, "myapp_signups_total") || strings.HasPrefix(line, `stellar_http_requests_total{action="",route="GET /version"`) {
			fmt.Println(line)
		}
	}
	// Output:
	// 1.4.0 true
	// myapp_signups_total 1
	// stellar_http_requests_total{action="",route="GET /version",status="200"} 1
}

// A handler of your own under a prefix: it sees the path below it.
func ExampleApp_Mount() {
	cfg := stellar.Config{}
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.TCP.Addr = "off"
	app := stellar.New(cfg, stellar.WithLogOutput(io.Discard))
	legacy := http.NewServeMux()
	legacy.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "order %s at %s", r.PathValue("id"), r.URL.Path)
	})
	app.Mount("/v1", legacy)

	ctx := context.Background()
	if err := app.Start(ctx); err != nil {
		panic(err)
	}
	defer app.Shutdown(ctx)
	res, err := http.Get("http://" + app.HTTPAddr().String() + "/v1/orders/7")
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Println(string(body))
	// Output: order 7 at /orders/7
}
