import Foundation
import SegmentsWire

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Who may do what on a daemon's sockets: maps a connecting peer to an ``RPCRole``, or to no access.
///
/// On the Unix socket, the daemon's own user is always `admin`. Anyone else gets the role of a `user` rule naming
/// them; failing that, the highest role among the `group` rules of groups they belong to; failing that, the `others`
/// role (`reader` unless the access file says otherwise). On the TLS listener, a client gets the role of the
/// `certificate` rule naming its certificate's common name (CN), failing that the `others` role. An access file
/// (``init(contentsOf:ownerUID:)``) has one rule per line:
///
/// ```
/// # comments start with '#'
/// user alice = admin            # a user, by name or number
/// user 1001 = writer
/// group segments-writers = writer
/// group analysts = reader
/// certificate evaluator-eu-1 = reader     # a TLS client certificate's CN
/// certificate "Reporting Service" = reader
/// others = none                 # everyone else who can connect; default reader
/// ```
///
/// Roles are `admin`, `writer`, `reader` and `none` (no call is served). Names are looked up when the file is read;
/// a name that does not exist, an unknown role or a subject named twice is an error that names the line.
public struct RPCAccessPolicy: Sendable, CustomStringConvertible {
    /// A rule's grant: a role, or `nil` for no access.
    public typealias Grant = RPCRole?

    /// The daemon's own user id, always `admin`.
    public let ownerUID: UInt32
    /// Grants by user id.
    public private(set) var users: [UInt32: Grant] = [:]
    /// Grants by group id.
    public private(set) var groups: [UInt32: Grant] = [:]
    /// Grants by the common name of a TLS client certificate.
    public private(set) var certificates: [String: Grant] = [:]
    /// The grant of everyone else.
    public private(set) var others: Grant = .reader

    /// The default: the daemon's own user is `admin`, everyone else who can open the socket is `reader`.
    /// - Parameter ownerUID: the daemon's user id; default the process's effective user id.
    public init(ownerUID: UInt32 = UInt32(geteuid())) {
        self.ownerUID = ownerUID
    }

    /// Reads an access file.
    /// - Parameters:
    ///   - path: the file.
    ///   - ownerUID: the daemon's user id; default the process's effective user id.
    /// - Throws: ``RPCAccessError`` when the file cannot be read or a line is wrong.
    public init(contentsOf path: String, ownerUID: UInt32 = UInt32(geteuid())) throws(RPCAccessError) {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw RPCAccessError("cannot read access file \(path): \(error.localizedDescription)")
        }
        try self.init(parsing: text, source: path, ownerUID: ownerUID)
    }

    /// Parses the text of an access file.
    /// - Parameters:
    ///   - text: the rules.
    ///   - source: where they come from, for errors.
    ///   - ownerUID: the daemon's user id.
    /// - Throws: ``RPCAccessError`` naming the first wrong line.
    public init(parsing text: String, source: String, ownerUID: UInt32) throws(RPCAccessError) {
        self.ownerUID = ownerUID
        var seen: [String: Int] = [:]
        for (offset, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = offset + 1
            func failure(_ reason: String) -> RPCAccessError {
                RPCAccessError("access file \(source), line \(number): \(reason)")
            }
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
                .trimmingCharacters(in: .whitespaces)
            guard !line.isEmpty else { continue }
            let sides = line.split(separator: "=", omittingEmptySubsequences: false)
            guard sides.count == 2 else {
                throw failure(
                    "expected 'user NAME = ROLE', 'group NAME = ROLE', 'certificate NAME = ROLE' or 'others = ROLE', "
                        + "not '\(line)'"
                )
            }
            let roleText = sides[1].trimmingCharacters(in: .whitespaces)
            let grant: Grant
            if roleText == "none" {
                grant = nil
            } else if let role = RPCRole(name: roleText) {
                grant = role
            } else {
                throw failure("unknown role '\(roleText)' (expected admin, writer, reader or none)")
            }
            let subject = sides[0].split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            let key = subject.joined(separator: " ")
            if let earlier = seen[key] {
                throw failure("'\(key)' already has a rule on line \(earlier)")
            }
            seen[key] = number
            if subject.first == "certificate" {
                let rest = sides[0].trimmingCharacters(in: .whitespaces).dropFirst("certificate".count)
                guard let name = Self.certificateName(rest), !name.isEmpty else {
                    throw failure("expected a common name after 'certificate' (quoted when it holds spaces)")
                }
                self.certificates[name] = grant
                continue
            }
            switch (subject.first, subject.count) {
            case ("others", 1):
                self.others = grant
            case ("user", 2):
                guard let uid = Self.userID(subject[1]) else { throw failure("no user named '\(subject[1])'") }
                guard uid != ownerUID else {
                    throw failure("'\(subject[1])' is the daemon's own user, which is always admin")
                }
                self.users[uid] = grant
            case ("group", 2):
                guard let gid = Self.groupID(subject[1]) else { throw failure("no group named '\(subject[1])'") }
                self.groups[gid] = grant
            default:
                throw failure("expected 'user NAME', 'group NAME' or 'others' before '=', not '\(key)'")
            }
        }
    }

    /// The grant of a connecting peer (`nil`: a peer the kernel did not describe, treated as others).
    public func grant(for peer: RPCPeer?) -> Grant {
        guard let peer else { return self.others }
        switch peer.identity {
        case .certificate(let commonName, _):
            if case .some(let grant) = self.certificates[commonName] { return grant }
            return self.others
        case .process(_, let uid, _):
            if uid == self.ownerUID { return .admin }
            if case .some(let grant) = self.users[uid] { return grant }
            if !self.groups.isEmpty {
                let matched = peer.groups().compactMap { self.groups[$0] }
                if !matched.isEmpty { return matched.compactMap { $0 }.max() }
            }
            return self.others
        }
    }

    /// The rules in effect, for the start-up log: `owner uid 0 admin; user 1001 writer; others reader`.
    public var description: String {
        func text(_ grant: Grant) -> String { grant?.description ?? "none" }
        var parts = ["owner uid \(self.ownerUID) admin"]
        parts += self.users.sorted { $0.key < $1.key }.map { "user \($0.key) \(text($0.value))" }
        parts += self.groups.sorted { $0.key < $1.key }.map { "group \($0.key) \(text($0.value))" }
        parts += self.certificates.sorted { $0.key < $1.key }.map { "certificate \"\($0.key)\" \(text($0.value))" }
        parts.append("others \(text(self.others))")
        return parts.joined(separator: "; ")
    }

    /// The common name of a `certificate` rule: the text after the keyword, unquoted; `nil` when a quote is not
    /// closed or the name is followed by more text.
    private static func certificateName(_ text: Substring) -> String? {
        let text = text.trimmingCharacters(in: .whitespaces)
        guard text.hasPrefix("\"") else {
            return text.contains(" ") ? nil : text
        }
        let body = text.dropFirst()
        guard body.hasSuffix("\"") else { return nil }
        let name = String(body.dropLast())
        return name.contains("\"") ? nil : name
    }

    private static func userID(_ text: String) -> UInt32? {
        if let number = UInt32(text) { return number }
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getpwnam_r(text, &entry, &buffer, buffer.count, &result) == 0, let result else { return nil }
        return UInt32(result.pointee.pw_uid)
    }

    private static func groupID(_ text: String) -> UInt32? {
        if let number = UInt32(text) { return number }
        var entry = group()
        var result: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 65536)
        guard getgrnam_r(text, &entry, &buffer, buffer.count, &result) == 0, let result else { return nil }
        return UInt32(result.pointee.gr_gid)
    }
}

/// Why an access file was refused: the file, the line and the reason.
public struct RPCAccessError: Error, Sendable, CustomStringConvertible {
    /// What is wrong, for people.
    public var message: String

    init(_ message: String) {
        self.message = message
    }

    public var description: String {
        self.message
    }
}
