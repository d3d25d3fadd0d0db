package config_test

import (
	"encoding/json"
	"fmt"

	"github.com/stellarfw/stellar-go/config"
)

// Load layers the file, the environment and flags on the program's base
// configuration, each overriding the one before.
func ExampleLoad() {
	loaded, err := config.Load(config.Source{
		Base:  config.Config{General: config.General{APIVersion: "2.1.0"}},
		File:  "testdata/stellar.toml",
		Env:   []string{"STELLAR_HTTP_ADDR=:9090", "STELLAR_HTTP_CORS_ALLOW_ORIGINS=*"},
		Flags: map[string]string{"log.level": "warn"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	c := loaded.Config
	fmt.Println("file:", loaded.File)
	fmt.Println("api version:", c.General.APIVersion) // base
	fmt.Println("server name:", c.General.ServerName) // file
	fmt.Println("http addr:", c.HTTP.Addr)            // environment
	fmt.Println("origins:", c.HTTP.CORS.AllowOrigins) // environment
	fmt.Println("log level:", c.Log.Level)            // flag
	fmt.Println("action path:", c.HTTP.ActionPath)    // default
	fmt.Println("http.addr from:", loaded.Origins["http.addr"])
	// Output:
	// file: testdata/stellar.toml
	// api version: 2.1.0
	// server name: My API
	// http addr: :9090
	// origins: [*]
	// log level: warn
	// action path: /api
	// http.addr from: STELLAR_HTTP_ADDR
}

// Errors name the source and the key, and say what was expected.
func ExampleLoad_error() {
	_, err := config.Load(config.Source{
		Dir:  "testdata",
		File: "stellar.json",
		Env:  []string{"STELLAR_HTTP_READ_TIMEOUT=30"},
	})
	fmt.Println(err)
	// Output:
	// config: STELLAR_HTTP_READ_TIMEOUT: key "http.read_timeout": expected a duration such as "30s", got "30"
}

// Masked is what `stellar config` prints: secrets are hidden.
func ExampleConfig_Masked() {
	c := config.Config{
		Redis:   config.Redis{URL: "redis://:hunter2@10.0.0.5:6379/0"},
		Cluster: config.Cluster{Token: "s3cret"},
	}
	m := c.Masked()
	out, _ := json.Marshal(map[string]any{
		"redis.url":     m["redis"].(map[string]any)["url"],
		"cluster.token": m["cluster"].(map[string]any)["token"],
	})
	fmt.Println(string(out))
	// Output:
	// {"cluster.token":"********","redis.url":"redis://:********@10.0.0.5:6379/0"}
}

func ExampleKeys() {
	for _, k := range config.Keys()[:3] {
		fmt.Printf("%s %s %q\n", k.Key, k.Env, k.Default)
	}
	// Output:
	// id STELLAR_ID "hostname-pid"
	// shutdown_timeout STELLAR_SHUTDOWN_TIMEOUT "30s"
	// general.server_name STELLAR_GENERAL_SERVER_NAME "Stellar API"
}
