package ami_test

import (
	"context"
	"fmt"
	"log"

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
