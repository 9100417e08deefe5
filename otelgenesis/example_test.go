package otelgenesis_test

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"time"

	"github.com/genesis-esl/genesis"
	"github.com/genesis-esl/genesis/fakeswitch"
	"github.com/genesis-esl/genesis/otelgenesis"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// Metrics for Prometheus and the health handlers on one mux: a call is
// made on a fakeswitch, and the scrape shows it.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv, err := fakeswitch.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	registry := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(registry), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo())
	if err != nil {
		log.Fatal(err)
	}
	inst, err := otelgenesis.New(otelgenesis.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))))
	if err != nil {
		log.Fatal(err)
	}
	client, err := genesis.Dial(ctx, srv.Addr(), srv.Password(), genesis.WithHooks(inst.Hooks()))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	if err := client.Subscribe(ctx, genesis.EventHeartbeat); err != nil { // health needs them
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	mux.Handle("GET /healthz", inst.HealthHandler())
	mux.Handle("GET /readyz", inst.ReadyHandler())
	web := httptest.NewServer(mux) // in production: http.ListenAndServe(":9090", mux)
	defer web.Close()

	ch, err := genesis.CreateChannel(ctx, client, "user/1000")
	if err != nil {
		log.Fatal(err)
	}
	if err := ch.Hangup(ctx, genesis.CauseNormalClearing); err != nil {
		log.Fatal(err)
	}

	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(web.URL + path)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		fmt.Println(path, resp.StatusCode)
	}
	resp, err := http.Get(web.URL + "/metrics")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	show := []string{"genesis_command_sent_total", "genesis_operation_duration_seconds_count", "genesis_channel_hangups_total", "genesis_connection_active"}
	lines := bufio.NewScanner(resp.Body)
	for lines.Scan() {
		l := lines.Text()
		name, _, _ := strings.Cut(l, "{")
		name, _, _ = strings.Cut(name, " ")
		if slices.Contains(show, name) {
			fmt.Println(l)
		}
	}
	// Output:
	// /healthz 200
	// /readyz 200
	// genesis_channel_hangups_total{genesis_call_answered="true",genesis_hangup_cause="NORMAL_CLEARING"} 1
	// genesis_command_sent_total{genesis_command_name="api uuid_kill"} 1
	// genesis_command_sent_total{genesis_command_name="bgapi originate"} 1
	// genesis_command_sent_total{genesis_command_name="event"} 3
	// genesis_connection_active 1
	// genesis_operation_duration_seconds_count{genesis_operation_name="hangup",genesis_outcome="ok"} 1
	// genesis_operation_duration_seconds_count{genesis_operation_name="originate",genesis_outcome="ok"} 1
}
