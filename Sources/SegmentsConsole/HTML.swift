/// Small helpers for the server-rendered pages: escaping and the shared layout.
enum HTML {
    /// Escapes text for an element's content or a quoted attribute.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    /// Escapes a path segment or query value for a URL.
    static func urlComponent(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                UInt8(ascii: "~"):
                out.append(Character(UnicodeScalar(byte)))
            default:
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }

    /// A whole page: title, navigation, the body, and optional page script (inline: nothing is fetched from
    /// elsewhere).
    static func page(title: String, body: String, script: String = "") -> String {
        """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(title)) — Segments</title>
        <style>\(style)</style></head>
        <body><header><a class="brand" href="/">Segments</a>
        <nav><a href="/">Segments</a><a href="/editor">Expression editor</a>
        <form class="find" action="/users" method="get"><input name="id" placeholder="user id" aria-label="user id">
        <button>Show user</button></form></nav></header>
        <main>\(body)</main>
        \(script.isEmpty ? "" : "<script>\(script)</script>")
        </body></html>
        """
    }

    static let style = """
        body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
        header{display:flex;gap:24px;align-items:center;padding:10px 24px;background:#1d2330;color:#fff}
        header a{color:#fff;text-decoration:none;margin-right:16px}.brand{font-weight:700;font-size:16px}
        nav{display:flex;align-items:center;flex:1}.find{margin-left:auto}
        main{padding:20px 24px;max-width:1100px}h1{font-size:20px;margin:4px 0 12px}h2{font-size:16px;margin:22px 0 8px}
        table{border-collapse:collapse;background:#fff;width:100%}th,td{padding:6px 10px;border-bottom:1px solid #e3e6eb;
        text-align:left;vertical-align:top}th{background:#eef0f4;font-weight:600}td.num,th.num{text-align:right;
        font-variant-numeric:tabular-nums}code,pre,textarea{font:13px/1.4 ui-monospace,monospace}
        pre{background:#fff;padding:10px;border:1px solid #e3e6eb;overflow:auto}.muted{color:#6b7385}
        .error{color:#b3261e}.enter{color:#1e7b34}.exit{color:#b3261e}.box{background:#fff;border:1px solid #e3e6eb;
        padding:12px;margin:8px 0}textarea{width:100%;box-sizing:border-box}ul.feed{list-style:none;padding:0;
        margin:0;max-height:320px;overflow:auto}ul.feed li{padding:3px 0;border-bottom:1px solid #eef0f4}
        .tree ul{margin:0;padding-left:18px}.true{color:#1e7b34}.false{color:#b3261e}
        """
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - self.count)) + self
    }
}
