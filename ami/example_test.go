package ami_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"strings"

	"github.com/calltrail/calltrail/ami"
	"github.com/calltrail/calltrail/ami/amitest"
)

// A Client that logs in and prints the events it receives. The fake
// Asterisk of package amitest stands in for a real one.
func Example() {
	srv := amitest.NewServer(amitest.Config{Username: "lab", Secret: "labpass"})
	defer srv.Close()

	cfg := ami.DefaultConfig()
	cfg.Username, cfg.Secret = "lab", "labpass"
	c := ami.NewClient(srv.Addr(), cfg)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()

	for m := range c.Events() {
		switch m.Event() {
		case ami.EventConnected:
			fmt.Println("connected:", m.Get("Banner"))
			// Asterisk would now send the events of real calls.
			srv.Send(
				ami.NewMessage("Event", "Newchannel", "Privilege", "call,all",
					"Channel", "PJSIP/1001-00000000", "Uniqueid", "1795333546.0"),
				ami.NewMessage("Event", "Hangup", "Privilege", "call,all",
					"Channel", "PJSIP/1001-00000000", "Cause", "16", "Cause-txt", "Normal Clearing"),
			)
		case ami.EventDisconnected:
			fmt.Println("disconnected:", m.Get("Reason"))
		case "FullyBooted":
			fmt.Println("Asterisk is", m.Get("Status"))
		case "Hangup":
			fmt.Println(m.Event(), m.Get("Channel"), m.Get("Cause-txt"))
			cancel() // stop the client: Run logs off and closes Events
		default:
			fmt.Println(m.Event(), m.Get("Channel"))
		}
	}
	if err := <-done; err != nil {
		log.Fatal(err)
	}
	// Output:
	// connected: Asterisk Call Manager/9.0.0
	// Asterisk is Fully Booted
	// Newchannel PJSIP/1001-00000000
	// Hangup PJSIP/1001-00000000 Normal Clearing
	// disconnected: ami: client stopped
}

// Dial logs in on one connection; DoList collects a list action's items
// up to its closing event.
func ExampleDial() {
	srv := amitest.NewServer(amitest.Config{Username: "lab", Secret: "labpass"})
	defer srv.Close()
	srv.HandleList("CoreShowChannels",
		ami.NewMessage("Event", "CoreShowChannel", "Channel", "PJSIP/1001-00000000", "ChannelStateDesc", "Up"),
		ami.NewMessage("Event", "CoreShowChannel", "Channel", "PJSIP/1002-00000001", "ChannelStateDesc", "Up"),
	)

	cfg := ami.DefaultConfig()
	cfg.Username, cfg.Secret = "lab", "labpass"
	cfg.AuthType = "md5" // the secret does not cross the network
	cfg.Events = "off"   // responses only
	ctx := context.Background()
	conn, err := ami.Dial(ctx, srv.Addr(), cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()

	list, err := conn.DoList(ctx, ami.NewMessage("Action", "CoreShowChannels"))
	if err != nil {
		log.Fatal(err)
	}
	for _, ch := range list.Items {
		fmt.Println(ch.Get("Channel"), ch.Get("ChannelStateDesc"))
	}
	fmt.Println(list.Complete.Event(), "ListItems:", list.Complete.Get("ListItems"))

	_, err = conn.Do(ctx, ami.NewMessage("Action", "BridgeInfo", "BridgeUniqueid", "nope"))
	fmt.Println(err)
	// Output:
	// PJSIP/1001-00000000 Up
	// PJSIP/1002-00000001 Up
	// CoreShowChannelsComplete ListItems: 2
	// ami: BridgeInfo: Invalid/unknown command: BridgeInfo. Use Action: ListCommands to show available commands.
}

// A Reader frames messages from any stream, such as a capture written by
// Config.Debug.
func ExampleReader() {
	capture := "Asterisk Call Manager/11.0.0\r\n" +
		"Response: Success\r\nActionID: login-1\r\nMessage: Authentication accepted\r\n\r\n" +
		"Event: Newchannel\r\nPrivilege: call,all\r\nTimestamp: 1795333546.437823\r\n" +
		"Channel: PJSIP/1001-00000000\r\nChanVariable: CDR(accountcode)=acme\r\n\r\n" +
		"Event: Hangup\r\nPrivilege: call,all\r\nTimestamp: 1795333552.445912\r\n" +
		"Channel: PJSIP/1001-00000000\r\nCause: 16\r\n\r\n"
	r := ami.NewReader(bufio.NewReader(strings.NewReader(capture)))
	var m ami.Message
	for {
		err := r.ReadMessageInto(&m) // reuses m's storage
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		if !m.IsEvent() {
			continue
		}
		sec, usec, _ := m.Timestamp()
		fmt.Println(sec, usec, m.Event(), m.Get("channel"), m.Variables())
	}
	fmt.Println(r.Banner())
	// Output:
	// 1795333546 437823 Newchannel PJSIP/1001-00000000 map[CDR(accountcode):acme]
	// 1795333552 445912 Hangup PJSIP/1001-00000000 map[]
	// Asterisk Call Manager/11.0.0
}
