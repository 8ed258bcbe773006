import Hummingbird
import SegmentLanguage
import SegmentsClient
import SegmentsJSON

/// The console's pages, rendered on the server from the client library's answers.
struct ConsolePages: Sendable {
    let client: SegmentsClient
    let configuration: ConsoleConfiguration

    // MARK: - Responses

    static func html(_ status: HTTPResponse.Status, title: String, body: String, script: String = "") -> Response {
        Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                .contentSecurityPolicy: "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'",
            ],
            body: .init(byteBuffer: ByteBuffer(string: HTML.page(title: title, body: body, script: script)))
        )
    }

    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: value.serialized))
        )
    }

    /// The page for a failed call: 404 for something that does not exist, 503 when a daemon is unreachable.
    static func failure(_ error: SegmentsClientError, what: String) -> Response {
        switch error.code {
        case .notFound:
            return html(
                .notFound,
                title: "Not found",
                body: "<h1>Not found</h1><p>\(HTML.escape(what)): \(HTML.escape(error.message))</p>"
                    + "<p><a href=\"/\">All segments</a></p>"
            )
        case .unavailable, .deadlineExceeded:
            return html(
                .serviceUnavailable,
                title: "Unreachable",
                body: "<h1>A Segments daemon is unreachable</h1><p>\(HTML.escape(error.message))</p>"
                    + "<p class=\"muted\">Check <code>segclient status</code>; this page works again once it answers.</p>"
            )
        default:
            return html(
                .internalServerError,
                title: "Error",
                body: "<h1>Error</h1><p>\(HTML.escape(what)): \(HTML.escape(error.message))</p>"
            )
        }
    }

    // MARK: - Segment list

    func segmentList() async -> Response {
        do throws(SegmentsClientError) {
            let definitions = try await self.client.segments()
            let nowMs = try await self.client.storeInfo().nowMs
            var rows = ""
            for definition in definitions {
                let count = try await self.client.memberCount(definition.name)
                let history = try await self.client.history(ofSegment: definition.name, limit: 500)
                let series = SizeSeries(transitions: history, currentCount: Int(count), nowMs: nowMs)
                let link = "/segments/" + HTML.urlComponent(definition.name)
                rows += """
                    <tr><td><a href="\(link)">\(HTML.escape(definition.name))</a></td>\
                    <td><code>\(HTML.escape(definition.expression))</code></td>\
                    <td class="num" data-count="\(HTML.escape(definition.name))">\(count)</td>\
                    <td>\(series.sparklineSVG())</td></tr>
                    """
            }
            let table =
                definitions.isEmpty
                ? "<p class=\"muted\">No segments yet. Write one in the <a href=\"/editor\">expression editor</a>.</p>"
                : """
                <table><thead><tr><th>Segment</th><th>Expression</th><th class="num">Members</th>\
                <th>Size over time</th></tr></thead><tbody>\(rows)</tbody></table>
                """
            return Self.html(.ok, title: "Segments", body: "<h1>Segments</h1>\(table)")
        } catch {
            return Self.failure(error, what: "cannot list the segments")
        }
    }

    // MARK: - One segment

    func segment(_ name: String) async -> Response {
        do throws(SegmentsClientError) {
            let definition = try await self.client.segment(name)
            let count = try await self.client.memberCount(name)
            let nowMs = try await self.client.storeInfo().nowMs
            let history = try await self.client.history(ofSegment: name, limit: self.configuration.chartTransitions)
            let series = SizeSeries(transitions: history, currentCount: Int(count), nowMs: nowMs)
            let members = try await self.client.members(name, limit: 50)
            let sample = members.map { user in
                "<li><a href=\"/users/\(HTML.urlComponent(user))\">\(HTML.escape(user))</a></li>"
            }.joined()
            let overlap = try await self.overlapTable(with: name)
            let recent = history.suffix(20).reversed().map(Self.feedItem).joined()
            let body = """
                <h1>\(HTML.escape(name))</h1>
                <div class="box"><code id="expression">\(HTML.escape(definition.expression))</code>
                <p class="muted">Created \(RFC3339.format(definition.createdAtMs)), \
                updated \(RFC3339.format(definition.updatedAtMs)).</p></div>
                <p>Members: <strong id="member-count">\(count)</strong></p>
                \(series.chartSVG(title: name))
                <h2>Live enter/exit feed</h2>
                <p class="muted" id="feed-state">connecting…</p>
                <ul class="feed" id="feed">\(recent)</ul>
                <h2>Sample members</h2>
                <ul id="members">\(sample.isEmpty ? "<li class=\"muted\">none</li>" : sample)</ul>
                \(count > 50 ? "<p class=\"muted\">\(count - 50) more</p>" : "")
                <h2>Overlap with other segments</h2>
                \(overlap)
                """
            return Self.html(.ok, title: name, body: body, script: Self.feedScript(name))
        } catch {
            return Self.failure(error, what: "segment '\(name)'")
        }
    }

    /// A transition as a feed line (the same markup the live script builds).
    static func feedItem(_ transition: SegmentsTransition) -> String {
        let kind = transition.kind.rawValue
        return """
            <li class="\(kind)"><span class="when">\(RFC3339.format(transition.atMs))</span> \
            <strong>\(kind)</strong> <a href="/users/\(HTML.urlComponent(transition.userID))">\
            \(HTML.escape(transition.userID))</a></li>
            """
    }

    /// The segment and up to 9 others as a matrix: members on the diagonal, members in both elsewhere (the Jaccard
    /// index in each cell's title), the segment itself first.
    private func overlapTable(with name: String) async throws(SegmentsClientError) -> String {
        let others = try await self.client.segments().map(\.name).filter { $0 != name }.prefix(9)
        guard !others.isEmpty else { return "<p class=\"muted\">No other segment.</p>" }
        let overlap = try await self.client.overlap([name] + others)
        let names = overlap.names
        var both = [[Int]](repeating: [Int](repeating: 0, count: names.count), count: names.count)
        var jaccard = [[Double]](repeating: [Double](repeating: 1, count: names.count), count: names.count)
        for (index, size) in overlap.sizes.enumerated() { both[index][index] = size }
        for pair in overlap.pairs {
            both[pair.first][pair.second] = pair.intersection
            both[pair.second][pair.first] = pair.intersection
            jaccard[pair.first][pair.second] = pair.jaccard
            jaccard[pair.second][pair.first] = pair.jaccard
        }
        func link(_ segment: String) -> String {
            "<a href=\"/segments/\(HTML.urlComponent(segment))\">\(HTML.escape(segment))</a>"
        }
        let header = names.map { "<th class=\"num\">\(link($0))</th>" }.joined()
        var rows = ""
        for (row, segment) in names.enumerated() {
            let cells = names.indices.map { column in
                let title = row == column ? "members" : "Jaccard \(String(format2: jaccard[row][column]))"
                return "<td class=\"num\" title=\"\(title)\">\(both[row][column])</td>"
            }.joined()
            rows += "<tr><th>\(link(segment))</th>\(cells)</tr>"
        }
        return """
            <table id="overlap"><thead><tr><th>Members in both</th>\(header)</tr></thead><tbody>\(rows)</tbody></table>
            <p class="muted">The diagonal is each segment's size; hover a cell for the Jaccard index.</p>
            """
    }

    /// Connects the page to the live feed (server-sent events) and prepends each transition.
    static func feedScript(_ name: String) -> String {
        """
        (function(){
          var feed=document.getElementById('feed'),state=document.getElementById('feed-state'),
              count=document.getElementById('member-count');
          var source=new EventSource('/segments/\(HTML.urlComponent(name))/feed');
          source.onopen=function(){state.textContent='live';};
          source.onerror=function(){state.textContent='reconnecting…';};
          source.addEventListener('transition',function(e){
            var t=JSON.parse(e.data),li=document.createElement('li');li.className=t.kind;
            var when=document.createElement('span');when.className='when';when.textContent=t.at;
            var kind=document.createElement('strong');kind.textContent=t.kind;
            var user=document.createElement('a');user.href='/users/'+encodeURIComponent(t.user);
            user.textContent=t.user;li.append(when,' ',kind,' ',user);feed.insertBefore(li,feed.firstChild);
            while(feed.children.length>200){feed.removeChild(feed.lastChild);}
            count.textContent=String(Number(count.textContent)+(t.kind==='enter'?1:-1));
          });
          source.addEventListener('skipped',function(e){
            var li=document.createElement('li');li.className='muted';
            li.textContent=e.data+' transitions skipped (this page read too slowly)';
            feed.insertBefore(li,feed.firstChild);
          });
        })();
        """
    }

    // MARK: - One user

    func user(_ userID: String, explaining segment: String?) async -> Response {
        do throws(SegmentsClientError) {
            let profile = try await self.client.profile(userID)
            let memberships = try await self.client.segments(of: userID)
            let history = try await self.client.history(ofUser: userID, limit: 50)
            let events = try await self.client.recentEvents(of: userID, limit: 20)
            let attributes = profile.attributes.keys.sorted().map { key in
                "<tr><td>\(HTML.escape(key))</td><td><code>\(HTML.escape(Self.text(profile.attributes[key]!)))</code></td></tr>"
            }.joined()
            let eventRows = events.map { event in
                """
                <tr><td>\(RFC3339.format(event.atMs ?? 0))</td><td>\(HTML.escape(event.name))</td>\
                <td><code>\(HTML.escape(Self.properties(event.properties)))</code></td></tr>
                """
            }.joined()
            let segmentItems = memberships.map { name in
                "<li><a href=\"/segments/\(HTML.urlComponent(name))\">\(HTML.escape(name))</a></li>"
            }.joined()
            let historyRows = history.reversed().map { transition in
                """
                <tr><td>\(RFC3339.format(transition.atMs))</td><td class="\(transition.kind.rawValue)">\
                \(transition.kind.rawValue)</td><td><a href="/segments/\(HTML.urlComponent(transition.segment))">\
                \(HTML.escape(transition.segment))</a></td></tr>
                """
            }.joined()
            let all = try await self.client.segments().map(\.name)
            let options = all.map { name in
                "<option\(name == segment ? " selected" : "")>\(HTML.escape(name))</option>"
            }.joined()
            var explanation = ""
            if let segment, !segment.isEmpty {
                let explained = try await self.client.explain(userID, in: segment)
                explanation = """
                    <div class="box tree" id="explain"><p>\(HTML.escape(userID)) is \
                    <strong class="\(explained.member)">\(explained.member ? "a member" : "not a member")</strong> \
                    of \(HTML.escape(segment)) at \(RFC3339.format(explained.nowMs)).</p>\
                    <ul>\(Self.tree(explained.root))</ul></div>
                    """
            }
            let link = HTML.urlComponent(userID)
            let body = """
                <h1>User \(HTML.escape(userID))</h1>
                <h2>Attributes</h2>
                \(attributes.isEmpty ? "<p class=\"muted\">none</p>" : "<table id=\"attributes\"><tbody>\(attributes)</tbody></table>")
                <h2>Recent events</h2>
                \(eventRows.isEmpty ? "<p class=\"muted\">none</p>" : "<table id=\"events\"><thead><tr><th>At</th><th>Event</th><th>Properties</th></tr></thead><tbody>\(eventRows)</tbody></table>")
                <h2>Segments now</h2>
                <ul id="segments">\(segmentItems.isEmpty ? "<li class=\"muted\">none</li>" : segmentItems)</ul>
                <h2>Why in or out</h2>
                <form method="get" action="/users/\(link)"><select name="explain">\(options)</select> \
                <button>Explain</button></form>
                \(explanation)
                <h2>History</h2>
                \(historyRows.isEmpty ? "<p class=\"muted\">none</p>" : "<table id=\"history\"><thead><tr><th>At</th><th>Change</th><th>Segment</th></tr></thead><tbody>\(historyRows)</tbody></table>")
                """
            return Self.html(.ok, title: "User \(userID)", body: body)
        } catch {
            return Self.failure(error, what: "user '\(userID)'")
        }
    }

    private static func tree(_ node: SegmentsExplanation.Node) -> String {
        let children = node.children.isEmpty ? "" : "<ul>\(node.children.map(Self.tree).joined())</ul>"
        // Colour only truth values; an attribute's or an aggregate's value is not a verdict.
        let verdict = node.value == "true" || node.value == "false" ? node.value : "value"
        return """
            <li><code>\(HTML.escape(node.text))</code> = <span class="\(verdict)">\(HTML.escape(node.value))</span>\
            \(children)</li>
            """
    }

    static func text(_ value: SegmentsValue) -> String {
        switch value {
        case .timestamp(let ms): RFC3339.format(ms)
        case .string(let text): "\"\(text)\""
        case .number(let number):
            number == number.rounded() && abs(number) < 1e15 ? String(Int64(number)) : String(number)
        case .bool(let flag): String(flag)
        case .stringList(let items): "[" + items.map { "\"\($0)\"" }.joined(separator: ", ") + "]"
        }
    }

    private static func properties(_ properties: [String: SegmentsValue]) -> String {
        properties.keys.sorted().map { "\($0): \(text(properties[$0]!))" }.joined(separator: ", ")
    }

    // MARK: - Expression editor

    func editor(
        name: String = "",
        expression: String = "",
        message: String = "",
        status: HTTPResponse.Status = .ok
    )
        -> Response
    {
        let body = """
            <h1>Expression editor</h1>
            <p class="muted">Type an expression: the exact count and a sample of who matches appear as you type. \
            Nothing is saved until you save it.</p>
            <form method="post" action="/editor" id="editor-form">
            <textarea id="expression" name="expression" rows="4" spellcheck="false">\(HTML.escape(expression))</textarea>
            <pre id="error" class="error" aria-live="polite">\(HTML.escape(message))</pre>
            <div class="box" id="preview" aria-live="polite"><span class="muted">no preview yet</span></div>
            <p><input name="name" placeholder="segment name" value="\(HTML.escape(name))" aria-label="segment name"> \
            <button>Save as segment</button></p></form>
            """
        return Self.html(status, title: "Expression editor", body: body, script: Self.editorScript)
    }

    static let editorScript = """
        (function(){
          var input=document.getElementById('expression'),error=document.getElementById('error'),
              preview=document.getElementById('preview'),timer=null,asked=0;
          function show(result,n){
            if(n!==asked)return;
            if(result.error){error.textContent=result.error.pointer+'\\n'+result.error.message;
              preview.innerHTML='<span class="muted">fix the expression to see who matches</span>';return;}
            error.textContent='';preview.textContent='';
            var count=document.createElement('p');count.id='preview-count';
            count.textContent=result.count+' users match';preview.appendChild(count);
            var list=document.createElement('ul');list.id='preview-sample';
            result.sample.forEach(function(u){var li=document.createElement('li');li.textContent=u;list.appendChild(li);});
            preview.appendChild(list);
          }
          function ask(){
            var n=++asked,text=input.value;
            if(!text.trim()){error.textContent='';preview.innerHTML='<span class="muted">no preview yet</span>';return;}
            fetch('/api/preview?expression='+encodeURIComponent(text),{credentials:'same-origin'})
              .then(function(r){return r.json();}).then(function(j){show(j,n);})
              .catch(function(e){error.textContent='preview failed: '+e;});
          }
          input.addEventListener('input',function(){clearTimeout(timer);timer=setTimeout(ask,250);});
          ask();
        })();
        """

    /// The preview of an unsaved expression: `{count, sample}`, or `{error: {line, column, message, pointer}}`
    /// where `pointer` is the offending line with a caret under the position.
    func preview(_ expression: String) async -> Response {
        do throws(SegmentLanguageError) {
            _ = try SegmentExpression.parse(expression)
        } catch {
            return Self.json(Self.positionedError(error))
        }
        do throws(SegmentsClientError) {
            let result = try await self.client.preview(expression, sampleSize: 10)
            return Self.json(
                .object([
                    ("count", .number(Double(result.count))), ("sample", .array(result.sample.map(JSONValue.string))),
                ])
            )
        } catch {
            let status: HTTPResponse.Status = error.code == .unavailable ? .serviceUnavailable : .ok
            return Self.json(
                .object([
                    (
                        "error",
                        .object([("message", .string(error.message)), ("pointer", .string(""))])
                    )
                ]),
                status: status
            )
        }
    }

    /// The offending line of an expression with a caret under the error's column.
    static func pointer(_ error: SegmentLanguageError) -> String {
        error.sourceLine + "\n" + String(repeating: " ", count: max(0, error.column - 1)) + "^"
    }

    static func positionedError(_ error: SegmentLanguageError) -> JSONValue {
        .object([
            (
                "error",
                .object([
                    ("line", .number(Double(error.line))), ("column", .number(Double(error.column))),
                    ("message", .string(error.message)), ("pointer", .string(Self.pointer(error))),
                ])
            )
        ])
    }

    /// Saves the expression as a segment, or shows the editor again with the error (nothing saved).
    func save(name: String, expression: String) async -> Response {
        guard !name.isEmpty else {
            return self.editor(
                name: name,
                expression: expression,
                message: "give the segment a name",
                status: .badRequest
            )
        }
        do throws(SegmentLanguageError) {
            _ = try SegmentExpression.parse(expression)
        } catch {
            return self.editor(
                name: name,
                expression: expression,
                message: Self.pointer(error) + "\n" + error.message,
                status: .badRequest
            )
        }
        do throws(SegmentsClientError) {
            _ = try await self.client.putSegment(name, expression: expression)
            return Response(status: .seeOther, headers: [.location: "/segments/" + HTML.urlComponent(name)])
        } catch {
            return self.editor(name: name, expression: expression, message: error.message, status: .badRequest)
        }
    }
}

extension String {
    /// A fraction with two decimals.
    fileprivate init(format2 value: Double) {
        let hundredths = Int((value * 100).rounded())
        self = "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)"
    }
}
