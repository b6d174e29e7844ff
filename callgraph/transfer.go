package callgraph

func (e *Engine) blindTransfer(ev event) {
	m := ev.m
	transferer := e.leg(ev, "Transferer", false)
	transferee := e.leg(ev, "Transferee", false)
	if transferer == nil {
		return
	}
	e.join(transferer, transferee)
	if b := e.bridgeOf(ev, ""); b != nil {
		for _, x := range b.members {
			e.join(transferer, x)
		}
	}
	if m.Get("Result") != "Success" {
		return
	}
	target := m.Get("Extension")
	if ctx := m.Get("Context"); ctx != "" && target != "" {
		target += "@" + ctx
	}
	c := transferer.call
	x := c.addEdge(&edge{
		c: Connection{
			Kind: KindBlindTransfer, At: Time{ev.t}, Target: target, To: target,
			External: m.Get("IsExternal") == "Yes",
		},
		by:   transferer,
		from: transferee,
	})
	c.blind = append(c.blind, pendingBlind{conn: x, transferee: transferee})
}

func (e *Engine) attendedTransfer(ev event) {
	m := ev.m
	orig := e.leg(ev, "OrigTransferer", false)
	second := e.leg(ev, "SecondTransferer", false)
	transferee := e.leg(ev, "Transferee", false)
	target := e.leg(ev, "TransferTarget", false)
	one, two := e.leg(ev, "LocalOne", false), e.leg(ev, "LocalTwo", false)
	anchor := orig
	for _, l := range []*leg{second, transferee, target, one, two} {
		if anchor == nil {
			anchor = l
		}
		e.join(anchor, l)
	}
	if anchor == nil {
		return
	}
	c := anchor.call
	kind := KindAttendedTransfer
	destType := m.Get("DestType")
	if m.Get("Result") != "Success" || destType == "Fail" {
		kind = KindAttendedTransferAbandoned
	}
	x := &edge{
		c: Connection{
			Kind: kind, At: Time{ev.t}, External: m.Get("IsExternal") == "Yes",
			DestType: destType, Status: m.Get("Result"),
		},
		by: orig, from: transferee, to: target, consult: second,
	}
	if target == nil {
		switch destType {
		case "App":
			app := m.Get("DestApp")
			x.c.Target = app
			// The transferee takes the place of the consultation call in
			// the application: with Dial (a blonde transfer) the target is
			// the party the consultation leg was still dialling.
			if second != nil {
				x.to = ringingDest(c, second)
			}
			if x.to == nil && second != nil && second.confName != "" {
				x.c.To = "conference:" + second.confName
			}
		case "Link":
			x.to = two
		}
	}
	if x.to == nil && destType == "Threeway" {
		x.c.Target = "threeway"
	}
	c.addEdge(x)
	if second != nil && second != orig {
		second.role = RoleConsult
	}
	if to := e.party(x.to); to != nil && to.role != RoleCaller && to != to.call.first {
		to.role = RoleTransferTarget
	}
	for i := range c.consults {
		if c.consults[i].leg == second {
			c.consults[i].settled = true
		}
	}
}

// ringingDest returns the party a leg was dialling and that has not
// answered yet.
func ringingDest(c *call, caller *leg) *leg {
	for i := len(c.conns) - 1; i >= 0; i-- {
		x := c.conns[i]
		if x.c.Kind == KindDial && x.from == caller && x.to != nil && x.to.answered.IsZero() {
			return x.to
		}
	}
	return nil
}

func (e *Engine) pickup(ev event) {
	picker := e.leg(ev, "", true)
	target := e.leg(ev, "Target", false)
	if picker == nil {
		return
	}
	e.join(target, picker)
	picker.call.addEdge(&edge{
		c:    Connection{Kind: KindPickup, At: Time{ev.t}},
		by:   picker,
		from: target,
		to:   picker,
	})
	if picker.role == "" || picker.role == RoleCaller {
		picker.role = RoleCallee
	}
}

func (e *Engine) parked(ev event) {
	m := ev.m
	parkee := e.leg(ev, "Parkee", true)
	if parkee == nil {
		return
	}
	parker := e.leg(ev, "Parker", false)
	e.join(parkee, parker)
	space := m.Get("ParkingSpace")
	if lot := m.Get("Parkinglot"); lot != "" {
		space = lot + ":" + space
	}
	parkee.call.addEdge(&edge{
		c:    Connection{Kind: KindPark, At: Time{ev.t}, Target: space, To: "park:" + space, Status: "parked"},
		by:   parker,
		from: parkee,
	})
}

func (e *Engine) unparked(ev event, name string) {
	m := ev.m
	parkee := e.leg(ev, "Parkee", false)
	if parkee == nil {
		return
	}
	space := m.Get("ParkingSpace")
	if lot := m.Get("Parkinglot"); lot != "" {
		space = lot + ":" + space
	}
	x := &edge{
		c:    Connection{Kind: KindPark, At: Time{ev.t}, Target: space, To: "park:" + space},
		from: parkee,
	}
	switch name {
	case "UnParkedCall":
		retriever := e.leg(ev, "Retriever", true)
		e.join(parkee, retriever)
		x.to, x.by = retriever, retriever
		x.c.Status = "retrieved"
		if retriever != nil && (retriever.role == "" || retriever.role == RoleCaller) {
			retriever.role = RoleCallee
		}
	case "ParkedCallTimeOut":
		x.c.Status = "timeout"
	case "ParkedCallGiveUp":
		x.c.Status = "gave_up"
	}
	parkee.call.addEdge(x)
}
