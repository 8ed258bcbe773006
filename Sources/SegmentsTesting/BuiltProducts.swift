import Foundation

/// Paths of the executables built next to the test bundle (`.build/<config>/`), or in the
/// directory named by `SEGMENTS_TEST_BINARIES` (e.g. release binaries driven by debug tests:
/// `dev/soak.sh`).
public enum BuiltProducts {
    /// The build products directory of the running test process, or `SEGMENTS_TEST_BINARIES`.
    public static var directory: String {
        if let directory = ProcessInfo.processInfo.environment["SEGMENTS_TEST_BINARIES"], !directory.isEmpty {
            return directory
        }
        let executable =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        var url = URL(fileURLWithPath: executable).deletingLastPathComponent()
        // On Linux the test runner is `.build/<config>/<package>PackageTests.xctest`, a file in the
        // products directory; elsewhere it may sit inside a bundle.
        while url.path != "/", !FileManager.default.fileExists(atPath: url.appendingPathComponent("segclient").path) {
            url.deleteLastPathComponent()
        }
        return url.path
    }

    /// The path of a built executable, e.g. `profile-store` or `segclient`.
    public static func path(of name: String) -> String {
        Self.directory + "/" + name
    }
}
