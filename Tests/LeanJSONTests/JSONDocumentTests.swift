import LeanJSON
import Testing

@Suite struct JSONDocumentTests {
    let text = #"{"b":[1,"two",{"c":null}],"a\u0062":"esc\"aped","K":true,"n":-1.5e2,"s":"plain","e":{}}"#

    @Test func readsWhatItIsAskedForByExactBytes() throws {
        let root = try JSONDocument(parsing: Array(text.utf8)).root
        #expect(root.isObject)
        #expect(root["s"]?.stringValue == "plain")
        #expect(root["s"]?.isString("plain") == true)
        #expect(root["s"]?.isString("plai") == false)
        #expect(root["ab"]?.stringValue == "esc\"aped", "an escaped key is found by its decoded bytes")
        #expect(root["ab"]?.isString("esc\"aped") == true)
        #expect(root["n"]?.numberValue == -150)
        #expect(root["K"]?.boolValue == true)
        #expect(root["\u{212A}"] == nil, "KELVIN SIGN is not K")
        #expect(root["missing"] == nil)
        #expect(root["b"]?.elements.count == 3)
        #expect(root["b"]?.elements[2]["c"]?.isNull == true)
        #expect(root["e"]?.members.isEmpty == true)
        #expect(root["s"]?["s"] == nil, "a string has no members")
        #expect(root.members.map(\.key) == ["b", "ab", "K", "n", "s", "e"], "members keep document order")
    }

    @Test func theTreeIsTheSameAsTheParsersTree() throws {
        #expect(try JSONDocument(parsing: Array(text.utf8)).root.json == JSON(parsing: text))
        #expect(try JSONDocument(parsing: Array(#"[[],{},"",0,false]"#.utf8)).root.json == [[], [:], "", 0, false])
    }

    @Test func refusesWhatTheParserRefuses() {
        for bad in [#"{"a":1,"a":2}"#, #"{"a":1,"\u0061":2}"#, #"{"K":1,"\u212A":2}"#, "[1,]", #""\ud800""#, "1 2", "", "{"] {
            #expect(throws: JSONParseError.self, "\(bad)") { try JSONDocument(parsing: Array(bad.utf8)) }
        }
        let many = "{" + (0..<40).map { #""k\#($0)":\#($0)"# }.joined(separator: ",") + #","k7":0}"#
        #expect { try JSONDocument(parsing: Array(many.utf8)) } throws: {
            ($0 as? JSONParseError)?.reason == .duplicateKey("k7")
        }
    }

    @Test func keepFirstDropsTheLaterEquivalentKeyEverywhere() throws {
        let document = try JSONDocument(parsing: Array(#"{"K":1,"\u212A":2,"x":3}"#.utf8), keepingFirstOfEquivalentKeys: true)
        #expect(document.droppedEquivalentKeys == ["\u{212A}"])
        #expect(document.root["K"]?.numberValue == 1)
        #expect(document.root["\u{212A}"] == nil, "a dropped member cannot be read")
        #expect(document.root.members.map(\.key) == ["K", "x"])
        #expect(document.root.json == ["K": 1, "x": 3])
    }
}
