import SegmentsRPC
import SegmentsWire
import Testing

/// How an access file maps a peer's credentials to a role, and how a wrong file is refused. Uses root (uid 0, group 0),
/// which every machine has, as the peer; the daemon's own user is a made-up uid.
struct RPCAccessPolicyTests {
    let owner: UInt32 = 424_242
    let root = RPCPeer(pid: 1, uid: 0, gid: 0)
    let stranger = RPCPeer(pid: 2, uid: 434_343, gid: 434_343)

    @Test func theDefaultMakesTheOwnerAdminAndEveryoneElseReader() {
        let policy = RPCAccessPolicy(ownerUID: self.owner)
        #expect(policy.grant(for: RPCPeer(pid: 3, uid: self.owner, gid: 5)) == .admin)
        #expect(policy.grant(for: self.root) == .reader)
        #expect(policy.grant(for: nil) == .reader)
    }

    @Test func aUserRuleWinsOverGroupsAndGroupsOverOthers() throws {
        let policy = try RPCAccessPolicy(
            parsing: """
                # comment line
                group root = writer      # root's group
                user root = none
                others = none
                """,
            source: "test",
            ownerUID: self.owner
        )
        #expect(policy.grant(for: self.root) == nil)
        let groups = try RPCAccessPolicy(parsing: "group 0 = writer\nothers = none", source: "t", ownerUID: self.owner)
        #expect(groups.grant(for: self.root) == .writer)
        #expect(groups.grant(for: self.stranger) == nil)
        #expect(groups.grant(for: RPCPeer(pid: 4, uid: self.owner, gid: 1)) == .admin)
    }

    @Test func certificateRulesMatchTheCommonNameOfTLSClientsOnly() throws {
        let policy = try RPCAccessPolicy(
            parsing: """
                certificate evaluator-1 = writer
                certificate "Reporting Service" = reader   # quoted: it holds a space
                certificate locked = none
                group 0 = admin
                others = none
                """,
            source: "t",
            ownerUID: self.owner
        )
        let address = "10.0.0.2:50312"
        #expect(policy.grant(for: RPCPeer(certificateCommonName: "evaluator-1", address: address)) == .writer)
        #expect(policy.grant(for: RPCPeer(certificateCommonName: "Reporting Service", address: address)) == .reader)
        #expect(policy.grant(for: RPCPeer(certificateCommonName: "locked", address: address)) == nil)
        // Unknown names get `others`; a certificate is never the daemon's own user nor a member of a group.
        #expect(policy.grant(for: RPCPeer(certificateCommonName: "root", address: address)) == nil)
        #expect(policy.grant(for: self.root) == .admin)
        let peer = RPCPeer(certificateCommonName: "evaluator-1", address: address)
        #expect(peer.description == #"certificate CN "evaluator-1" from 10.0.0.2:50312"#)
        #expect(peer.uid == nil && peer.pid == nil)
    }

    @Test func theHighestRoleOfTheMatchingGroupsApplies() throws {
        // The peer's effective group counts even when the user database does not list it.
        let policy = try RPCAccessPolicy(
            parsing: "group 0 = reader\ngroup 434343 = admin\nothers = none",
            source: "t",
            ownerUID: self.owner
        )
        #expect(policy.grant(for: RPCPeer(pid: 5, uid: 0, gid: 434_343)) == .admin)
        #expect(policy.grant(for: self.root) == .reader)
    }

    @Test(arguments: [
        ("user = admin", "line 1: expected 'user NAME', 'group NAME' or 'others' before '='"),
        ("\n\nuser root = owner", "line 3: unknown role 'owner' (expected admin, writer, reader or none)"),
        (
            "user root admin",
            "line 1: expected 'user NAME = ROLE', 'group NAME = ROLE', 'certificate NAME = ROLE' or 'others = ROLE'"
        ),
        ("certificate = reader", "line 1: expected a common name after 'certificate'"),
        ("certificate two words = reader", "line 1: expected a common name after 'certificate'"),
        ("certificate \"open = reader", "line 1: expected a common name after 'certificate'"),
        ("group no-such-group-here = reader", "line 1: no group named 'no-such-group-here'"),
        ("user 0 = admin\nuser 0 = reader", "line 2: 'user 0' already has a rule on line 1"),
        ("user 424242 = reader", "line 1: '424242' is the daemon's own user, which is always admin"),
    ])
    func aWrongLineIsRefusedWithItsNumberAndReason(text: String, reason: String) {
        #expect {
            try RPCAccessPolicy(parsing: text, source: "/etc/segments/access", ownerUID: 424_242)
        } throws: { error in
            let message = (error as? RPCAccessError)?.message ?? ""
            return message.hasPrefix("access file /etc/segments/access, ") && message.contains(reason)
        }
    }

    @Test func aMissingFileIsAnError() {
        #expect(throws: RPCAccessError.self) {
            try RPCAccessPolicy(contentsOf: "/nonexistent/access", ownerUID: 1)
        }
    }

    @Test func theDescriptionListsTheRules() throws {
        let policy = try RPCAccessPolicy(parsing: "user 7 = writer\nothers = none", source: "t", ownerUID: 9)
        #expect(policy.description == "owner uid 9 admin; user 7 writer; others none")
    }
}
