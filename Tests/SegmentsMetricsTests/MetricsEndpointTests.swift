import SegmentsMetrics
import Testing

/// `--metrics HOST:PORT` parsing.
@Suite struct MetricsEndpointTests {
    @Test func addressesParse() throws {
        let v4 = try MetricsEndpoint(parsing: "127.0.0.1:9464")
        #expect(v4.host == "127.0.0.1" && v4.port == 9464 && v4.isLoopback)
        let v6 = try MetricsEndpoint(parsing: "[::1]:9100")
        #expect(v6.host == "::1" && v6.port == 9100 && v6.isLoopback)
        #expect(v6.description == "[::1]:9100")
        let named = try MetricsEndpoint(parsing: "localhost:1")
        #expect(named.isLoopback)
        #expect(try MetricsEndpoint(parsing: "0.0.0.0:9464").isLoopback == false)
    }

    @Test func badAddressesSayWhatIsWrong() {
        let cases: [(String, String)] = [
            ("", "expected HOST:PORT"),
            ("9464", "expected HOST:PORT"),
            (":9464", "the host is missing"),
            ("127.0.0.1:", "the port must be a number from 1 to 65535"),
            ("127.0.0.1:65536", "the port must be a number from 1 to 65535"),
            ("127.0.0.1:0", "the port must be a number from 1 to 65535"),
            ("::1:9464", "an IPv6 address must be written [ADDRESS]:PORT"),
            ("[::1]9464", "an IPv6 address must be written [ADDRESS]:PORT"),
        ]
        for (text, reason) in cases {
            #expect(throws: MetricsEndpointError.self) { try MetricsEndpoint(parsing: text) }
            do {
                _ = try MetricsEndpoint(parsing: text)
            } catch {
                #expect(error.message.hasPrefix("metrics address '\(text)': \(reason)"))
            }
        }
    }
}
