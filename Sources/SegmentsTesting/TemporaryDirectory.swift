import Foundation

/// A fresh directory under the system's temporary directory, removed after use.
public enum TemporaryDirectory {
    /// Runs `body` with the path of a new empty directory, then removes it and its contents.
    /// Paths stay short because Unix socket paths are limited to 107 bytes.
    /// - Parameter body: what to do in the directory.
    public static func with<Result>(_ body: (String) async throws -> Result) async throws -> Result {
        var template = Array("/tmp/seg-XXXXXX".utf8CString)
        let path = template.withUnsafeMutableBufferPointer { buffer -> String? in
            guard let result = mkdtemp(buffer.baseAddress!) else { return nil }
            return String(cString: result)
        }
        guard let path else {
            throw CocoaError(.fileWriteUnknown)
        }
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try await body(path)
    }
}
