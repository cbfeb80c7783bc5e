// SPDX-License-Identifier: GPL-3.0-or-later
// Copyright (c) 2026, CommandCenter platform team

// nats-probe: a small NATS/JetStream client for health checks, tests and operators,
// built on the official Go client nats.go (Debian's golang-github-nats-io-go-nats-dev).
// Every command connects (the password comes from a file or stdin, never from the
// command line), does one thing and prints one JSON document on stdout.
// Exit codes: 0 ok, 1 the operation failed, 2 connecting or authenticating failed.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const usage = `usage: nats-probe [-s URL] [-user NAME -password-file FILE|-] [-timeout 5s] COMMAND [ARGS]

commands:
  connect                                   connect, authenticate, report the server
  stream-add NAME SUBJECT... [-storage file|memory]
                                            create the stream (or confirm it as given)
  publish SUBJECT DATA                      publish to JetStream, wait for the ack
  consume STREAM SUBJECT -durable NAME [-count N] [-no-ack]
                                            fetch with a durable pull consumer, ack each message
  stream-info NAME                          a stream's state
  consumer-info STREAM DURABLE              a durable consumer's state
  request SUBJECT [DATA]                    a core NATS request, print the reply
`

type doc map[string]any

func emit(d doc) {
	out, _ := json.Marshal(d)
	fmt.Println(string(out))
}

func fail(stage string, err error, code int) {
	emit(doc{"ok": false, "stage": stage, "error": err.Error()})
	os.Exit(code)
}

func readPassword(path string) (string, error) {
	if path == "-" {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return "", err
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	data, err := os.ReadFile(path)
	return strings.TrimRight(string(data), "\r\n"), err
}

func main() {
	global := flag.NewFlagSet("nats-probe", flag.ExitOnError)
	global.Usage = func() { fmt.Fprint(os.Stderr, usage) }
	server := global.String("s", "nats://127.0.0.1:4222", "server URL")
	user := global.String("user", "", "user name")
	passwordFile := global.String("password-file", "", "file holding the password ('-': one line from stdin)")
	timeout := global.Duration("timeout", 5*time.Second, "time per operation")
	_ = global.Parse(os.Args[1:])
	args := global.Args()
	if len(args) == 0 {
		global.Usage()
		os.Exit(64)
	}
	command, args := args[0], args[1:]
	sub := flag.NewFlagSet(command, flag.ExitOnError)
	storage := sub.String("storage", "file", "stream storage: file or memory")
	durable := sub.String("durable", "", "durable consumer name")
	count := sub.Int("count", 1, "messages to fetch")
	noAck := sub.Bool("no-ack", false, "fetch without acknowledging")
	sub.DurationVar(timeout, "timeout", *timeout, "time per operation")
	// Flags may follow the positional arguments: parse them wherever they are
	// (-timeout is accepted before and after the command).
	var positional []string
	for len(args) > 0 {
		_ = sub.Parse(args)
		if sub.NArg() == 0 {
			break
		}
		positional = append(positional, sub.Arg(0))
		args = sub.Args()[1:]
	}
	need := func(n int) {
		if len(positional) < n {
			global.Usage()
			os.Exit(64)
		}
	}

	opts := []nats.Option{nats.Name("nats-probe"), nats.Timeout(*timeout), nats.NoReconnect()}
	if *user != "" {
		password := ""
		if *passwordFile != "" {
			p, err := readPassword(*passwordFile)
			if err != nil {
				fail("password-file", err, 2)
			}
			password = p
		}
		opts = append(opts, nats.UserInfo(*user, password))
	}
	nc, err := nats.Connect(*server, opts...)
	if err != nil {
		fail("connect", err, 2)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2**timeout) // a fetch may wait one timeout
	defer cancel()
	js, err := jetstream.New(nc)
	if err != nil {
		fail(command, err, 1)
	}

	switch command {
	case "connect":
		_, jsErr := js.AccountInfo(ctx)
		d := doc{"ok": true, "server_name": nc.ConnectedServerName(), "version": nc.ConnectedServerVersion(),
			"auth_required": nc.AuthRequired(), "max_payload": nc.MaxPayload(), "jetstream": jsErr == nil}
		if jsErr != nil {
			d["jetstream_error"] = jsErr.Error()
		}
		emit(d)
	case "stream-add":
		need(2)
		cfg := jetstream.StreamConfig{Name: positional[0], Subjects: positional[1:], Storage: jetstream.FileStorage}
		if *storage == "memory" {
			cfg.Storage = jetstream.MemoryStorage
		}
		s, err := js.CreateOrUpdateStream(ctx, cfg)
		if err != nil {
			fail(command, err, 1)
		}
		info := s.CachedInfo()
		emit(doc{"ok": true, "stream": info.Config.Name, "subjects": info.Config.Subjects,
			"storage": info.Config.Storage.String(), "messages": info.State.Msgs})
	case "publish":
		need(2)
		ack, err := js.Publish(ctx, positional[0], []byte(positional[1]))
		if err != nil {
			fail(command, err, 1)
		}
		emit(doc{"ok": true, "stream": ack.Stream, "seq": ack.Sequence, "duplicate": ack.Duplicate})
	case "consume":
		need(2)
		if *durable == "" {
			fail(command, errors.New("-durable is required"), 64)
		}
		cons, err := js.CreateOrUpdateConsumer(ctx, positional[0], jetstream.ConsumerConfig{
			Durable: *durable, FilterSubject: positional[1], AckPolicy: jetstream.AckExplicitPolicy})
		if err != nil {
			fail(command, err, 1)
		}
		batch, err := cons.Fetch(*count, jetstream.FetchMaxWait(*timeout))
		if err != nil {
			fail(command, err, 1)
		}
		got := []doc{}
		for msg := range batch.Messages() {
			meta, err := msg.Metadata()
			if err != nil {
				fail(command, err, 1)
			}
			if !*noAck {
				if err := msg.DoubleAck(ctx); err != nil {
					fail("ack", err, 1)
				}
			}
			got = append(got, doc{"subject": msg.Subject(), "data": string(msg.Data()),
				"seq": meta.Sequence.Stream, "acked": !*noAck})
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			fail(command, err, 1)
		}
		emit(doc{"ok": true, "messages": got})
	case "stream-info":
		need(1)
		s, err := js.Stream(ctx, positional[0])
		if err != nil {
			fail(command, err, 1)
		}
		info := s.CachedInfo()
		emit(doc{"ok": true, "stream": info.Config.Name, "storage": info.Config.Storage.String(),
			"messages": info.State.Msgs, "bytes": info.State.Bytes,
			"first_seq": info.State.FirstSeq, "last_seq": info.State.LastSeq})
	case "consumer-info":
		need(2)
		cons, err := js.Consumer(ctx, positional[0], positional[1])
		if err != nil {
			fail(command, err, 1)
		}
		info := cons.CachedInfo()
		emit(doc{"ok": true, "num_ack_pending": info.NumAckPending, "num_pending": info.NumPending,
			"delivered": info.Delivered.Stream, "ack_floor": info.AckFloor.Stream})
	case "request":
		need(1)
		data := ""
		if len(positional) > 1 {
			data = positional[1]
		}
		reply, err := nc.Request(positional[0], []byte(data), *timeout)
		if err != nil {
			fail(command, err, 1)
		}
		var parsed any
		if json.Unmarshal(reply.Data, &parsed) != nil {
			parsed = string(reply.Data)
		}
		emit(doc{"ok": true, "reply": parsed})
	default:
		global.Usage()
		os.Exit(64)
	}
}
