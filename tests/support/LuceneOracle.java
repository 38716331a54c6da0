/*
 * A test oracle that answers regexp and wildcard questions with real Lucene.
 *
 * Protocol: one JSON object per line on stdin, one JSON object per line on stdout, in order.
 *
 *   {"kind":"version"}
 *       -> {"version":"9.12.3"}
 *   {"kind":"regexp","pattern":"ab.*","case_insensitive":false,"values":["abc","xabc"]}
 *       -> {"matches":[true,false]}
 *       -> {"error":"<exception message>","error_type":"IllegalArgumentException","too_complex":false}
 *          ("too_complex":true when the automaton needs more than max_determinized_states of determinize work)
 *   {"kind":"wildcard","pattern":"*\\calc.exe","case_insensitive":true,"values":["..."]}
 *       -> {"matches":[...]}
 *
 * Optional request fields:
 *   "flags"                    regexp syntax flags; default: the query DSL's default, RegExp.ALL
 *                              (plus RegExp.DEPRECATED_COMPLEMENT on Lucene 10, as Elasticsearch 9)
 *   "max_determinized_states"  default Operations.DEFAULT_DETERMINIZE_WORK_LIMIT (10000), as the DSL
 *   "via"                      "automaton" (default): run the query's compiled automaton over the
 *                              UTF-8 bytes of each value, as the terms enumeration does;
 *                              "index": index the values as keyword terms in an in-memory index and
 *                              search it with the same query (slower; used to cross-check).
 *
 * Case-insensitive wildcard has no Lucene class: the engines (OpenSearch 2.x, Elasticsearch 8)
 * build it themselves; this does the same: an unescaped ASCII letter matches either case, an
 * escaped character only itself.
 *
 * The source compiles against Lucene 9.12 and 10.x: the few APIs that differ are reached by
 * reflection.
 * A request that cannot be read gets {"protocol_error":"..."}; the caller must treat it as a bug.
 * No JSON library: requests are parsed by the small reader below (full JSON string escapes,
 * including surrogate pairs written as two backslash-u escapes).
 */

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.lang.reflect.InvocationTargetException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.StoredField;
import org.apache.lucene.document.StringField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.Term;
import org.apache.lucene.search.AutomatonQuery;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.MultiTermQuery;
import org.apache.lucene.search.RegexpQuery;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.TopDocs;
import org.apache.lucene.search.WildcardQuery;
import org.apache.lucene.store.ByteBuffersDirectory;
import org.apache.lucene.util.BytesRef;
import org.apache.lucene.util.Version;
import org.apache.lucene.util.automaton.Automata;
import org.apache.lucene.util.automaton.Automaton;
import org.apache.lucene.util.automaton.CompiledAutomaton;
import org.apache.lucene.util.automaton.Operations;
import org.apache.lucene.util.automaton.RegExp;
import org.apache.lucene.util.automaton.TooComplexToDeterminizeException;

public final class LuceneOracle {

  private static final String FIELD = "f";

  public static void main(String[] args) throws IOException {
    BufferedReader in =
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    BufferedWriter out =
        new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8));
    String line;
    while ((line = in.readLine()) != null) {
      if (line.isBlank()) {
        continue;
      }
      String answer;
      try {
        answer = handle(line);
      } catch (BadRequest e) {
        answer = "{\"protocol_error\":" + quote(e.getMessage()) + "}";
      } catch (Throwable t) {
        answer = "{\"protocol_error\":" + quote("oracle crashed: " + t) + "}";
      }
      out.write(answer);
      out.write('\n');
      out.flush();
    }
  }

  // ------------------------------------------------------------------ requests

  static final class BadRequest extends Exception {
    private static final long serialVersionUID = 1L;

    BadRequest(String message) {
      super(message);
    }
  }

  static String handle(String line) throws Exception {
    Object parsed = new Reader(line).readDocument();
    if (!(parsed instanceof Map)) {
      throw new BadRequest("a request must be a JSON object");
    }
    @SuppressWarnings("unchecked")
    Map<String, Object> req = (Map<String, Object>) parsed;
    String kind = string(req, "kind", null);
    if ("version".equals(kind)) {
      return "{\"version\":" + quote(Version.LATEST.toString()) + "}";
    }
    if (!"regexp".equals(kind) && !"wildcard".equals(kind)) {
      throw new BadRequest("unknown kind: " + kind);
    }
    String pattern = string(req, "pattern", null);
    if (pattern == null) {
      throw new BadRequest("missing pattern");
    }
    boolean caseInsensitive = bool(req, "case_insensitive", false);
    int limit = integer(req, "max_determinized_states", Operations.DEFAULT_DETERMINIZE_WORK_LIMIT);
    String via = string(req, "via", "automaton");
    List<String> values = strings(req, "values");

    if (!"automaton".equals(via) && !"index".equals(via)) {
      throw new BadRequest("unknown via: " + via);
    }

    // Building the query is where the engines reject a pattern (parse errors, too complex).
    AutomatonQuery query;
    try {
      if ("regexp".equals(kind)) {
        int flags = integer(req, "flags", RegExp.ALL | staticInt(RegExp.class, "DEPRECATED_COMPLEMENT"));
        query = regexpQuery(pattern, flags, caseInsensitive, limit);
      } else {
        query = wildcardQuery(pattern, caseInsensitive, limit);
      }
    } catch (InvocationTargetException e) {
      return rejection(e.getCause());
    } catch (RuntimeException | StackOverflowError e) {
      return rejection(e);
    }

    boolean[] matches = "index".equals(via) ? runIndex(query, values) : runCompiled(query, values);
    StringBuilder sb = new StringBuilder("{\"matches\":[");
    for (int i = 0; i < matches.length; i++) {
      sb.append(i == 0 ? "" : ",").append(matches[i] ? "true" : "false");
    }
    return sb.append("]}").toString();
  }

  /**
   * A refused pattern: the message, the exception's class, and "too_complex": whether building the automaton hit
   * the determinize work limit (TooComplexToDeterminizeException, from RegExp.toAutomaton's minimizations, a
   * counted repetition's early check, or the query's own determinize), which is what detect's validation predicts.
   */
  static String rejection(Throwable e) {
    String message = e.getMessage() == null ? e.toString() : e.getMessage();
    return "{\"error\":"
        + quote(message)
        + ",\"error_type\":"
        + quote(e.getClass().getSimpleName())
        + ",\"too_complex\":"
        + (e instanceof TooComplexToDeterminizeException)
        + "}";
  }

  // ------------------------------------------------------------------ queries, as the engines build them

  /**
   * The keyword field's regexp query: RegexpQuery(term, flags, caseInsensitive ?
   * ASCII_CASE_INSENSITIVE : 0, max_determinized_states). The RegexpQuery constructor parses the
   * pattern and builds the (determinized, on Lucene 9) automaton; parse errors surface here.
   */
  static AutomatonQuery regexpQuery(String pattern, int flags, boolean ci, int limit) {
    int matchFlags = ci ? RegExp.ASCII_CASE_INSENSITIVE : 0;
    return new RegexpQuery(
        new Term(FIELD, pattern),
        flags,
        matchFlags,
        RegexpQuery.DEFAULT_PROVIDER,
        limit,
        MultiTermQuery.CONSTANT_SCORE_BLENDED_REWRITE);
  }

  /**
   * Case sensitive: Lucene's own WildcardQuery. Case insensitive: the engines' own automaton (the
   * same wildcard syntax, each unescaped character folded, an escaped character kept as is),
   * wrapped in an AutomatonQuery.
   */
  static AutomatonQuery wildcardQuery(String pattern, boolean ci, int limit)
      throws ReflectiveOperationException {
    Term term = new Term(FIELD, pattern);
    if (!ci) {
      return new WildcardQuery(term, limit);
    }
    List<Automaton> parts = new ArrayList<>();
    int i = 0;
    while (i < pattern.length()) {
      int cp = pattern.codePointAt(i);
      i += Character.charCount(cp);
      if (cp == WildcardQuery.WILDCARD_STRING) {
        parts.add(Automata.makeAnyString());
      } else if (cp == WildcardQuery.WILDCARD_CHAR) {
        parts.add(Automata.makeAnyChar());
      } else if (cp == WildcardQuery.WILDCARD_ESCAPE && i < pattern.length()) {
        int escaped = pattern.codePointAt(i);
        i += Character.charCount(escaped);
        parts.add(Automata.makeChar(escaped));
      } else {
        // includes a trailing lone backslash, which the engines take literally
        parts.add(asciiFold(cp));
      }
    }
    Automaton automaton = Operations.concatenate(parts);
    try {
      // Lucene 9: AutomatonQuery(Term, Automaton, int determinizeWorkLimit, boolean isBinary)
      return AutomatonQuery.class
          .getConstructor(Term.class, Automaton.class, int.class, boolean.class)
          .newInstance(term, automaton, limit, false);
    } catch (NoSuchMethodException e) {
      // Lucene 10: the automaton must be deterministic already
      Automaton dfa = Operations.determinize(automaton, limit);
      return AutomatonQuery.class
          .getConstructor(Term.class, Automaton.class, boolean.class)
          .newInstance(term, dfa, false);
    }
  }

  static int staticInt(Class<?> owner, String name) {
    try {
      return owner.getField(name).getInt(null);
    } catch (ReflectiveOperationException e) {
      return 0;
    }
  }

  /** ASCII-only folding of one code point, as the Lucene 9 based engines do it. */
  static Automaton asciiFold(int cp) {
    Automaton same = Automata.makeChar(cp);
    if (cp > 128) {
      return same;
    }
    int other = Character.isLowerCase(cp) ? Character.toUpperCase(cp) : Character.toLowerCase(cp);
    if (other == cp) {
      return same;
    }
    List<Automaton> both = new ArrayList<>();
    both.add(same);
    both.add(Automata.makeChar(other));
    return Operations.union(both);
  }

  // ------------------------------------------------------------------ matching

  /**
   * Take the query's own CompiledAutomaton (the UTF-8 byte automaton its terms enumeration runs)
   * and decide each value as that enumeration would.
   */
  static boolean[] runCompiled(AutomatonQuery query, List<String> values)
      throws ReflectiveOperationException {
    java.lang.reflect.Field field = AutomatonQuery.class.getDeclaredField("compiled");
    field.setAccessible(true);
    CompiledAutomaton compiled = (CompiledAutomaton) field.get(query);
    boolean[] result = new boolean[values.size()];
    for (int i = 0; i < result.length; i++) {
      BytesRef bytes = new BytesRef(values.get(i));
      switch (compiled.type) {
        case NONE:
          result[i] = false;
          break;
        case ALL:
          result[i] = true;
          break;
        case SINGLE:
          result[i] = compiled.term.bytesEquals(bytes);
          break;
        case NORMAL:
          result[i] = compiled.runAutomaton.run(bytes.bytes, bytes.offset, bytes.length);
          break;
        default:
          throw new IllegalStateException("unexpected automaton type " + compiled.type);
      }
    }
    return result;
  }

  /** Index each value as one keyword document and search with the query itself. */
  static boolean[] runIndex(AutomatonQuery query, List<String> values) throws IOException {
    boolean[] result = new boolean[values.size()];
    if (values.isEmpty()) {
      return result;
    }
    try (ByteBuffersDirectory dir = new ByteBuffersDirectory()) {
      try (IndexWriter writer = new IndexWriter(dir, new IndexWriterConfig())) {
        for (int i = 0; i < values.size(); i++) {
          Document doc = new Document();
          doc.add(new StringField(FIELD, values.get(i), Field.Store.NO));
          doc.add(new StoredField("i", i));
          writer.addDocument(doc);
        }
      }
      try (DirectoryReader reader = DirectoryReader.open(dir)) {
        IndexSearcher searcher = new IndexSearcher(reader);
        TopDocs hits = searcher.search(query, values.size());
        for (ScoreDoc hit : hits.scoreDocs) {
          int i = searcher.storedFields().document(hit.doc).getField("i").numericValue().intValue();
          result[i] = true;
        }
      }
    }
    return result;
  }

  // ------------------------------------------------------------------ request fields

  static String string(Map<String, Object> req, String key, String dflt) throws BadRequest {
    Object v = req.get(key);
    if (v == null) {
      return dflt;
    }
    if (!(v instanceof String)) {
      throw new BadRequest(key + " must be a string");
    }
    return (String) v;
  }

  static boolean bool(Map<String, Object> req, String key, boolean dflt) throws BadRequest {
    Object v = req.get(key);
    if (v == null) {
      return dflt;
    }
    if (!(v instanceof Boolean)) {
      throw new BadRequest(key + " must be true or false");
    }
    return (Boolean) v;
  }

  static int integer(Map<String, Object> req, String key, int dflt) throws BadRequest {
    Object v = req.get(key);
    if (v == null) {
      return dflt;
    }
    if (!(v instanceof Long)) {
      throw new BadRequest(key + " must be an integer");
    }
    long n = (Long) v;
    if (n < Integer.MIN_VALUE || n > Integer.MAX_VALUE) {
      throw new BadRequest(key + " is out of range");
    }
    return (int) n;
  }

  static List<String> strings(Map<String, Object> req, String key) throws BadRequest {
    Object v = req.get(key);
    List<String> out = new ArrayList<>();
    if (v == null) {
      return out;
    }
    if (!(v instanceof List)) {
      throw new BadRequest(key + " must be a list of strings");
    }
    for (Object item : (List<?>) v) {
      if (!(item instanceof String)) {
        throw new BadRequest(key + " must be a list of strings");
      }
      out.add((String) item);
    }
    return out;
  }

  // ------------------------------------------------------------------ JSON out

  static String quote(String s) {
    StringBuilder sb = new StringBuilder(s.length() + 2).append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '"' || c == '\\') {
        sb.append('\\').append(c);
      } else if (c >= 0x20 && c < 0x7f) {
        sb.append(c);
      } else {
        sb.append(String.format("\\u%04x", (int) c));
      }
    }
    return sb.append('"').toString();
  }

  // ------------------------------------------------------------------ JSON in

  /** A strict reader for one JSON document (objects, arrays, strings, numbers, literals). */
  static final class Reader {
    private final String s;
    private int pos;

    Reader(String s) {
      this.s = s;
    }

    Object readDocument() throws BadRequest {
      Object value = readValue();
      skipSpace();
      if (pos != s.length()) {
        throw fail("trailing characters");
      }
      return value;
    }

    private BadRequest fail(String what) {
      return new BadRequest("bad JSON at offset " + pos + ": " + what);
    }

    private void skipSpace() {
      while (pos < s.length()) {
        char c = s.charAt(pos);
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
          pos++;
        } else {
          break;
        }
      }
    }

    private Object readValue() throws BadRequest {
      skipSpace();
      if (pos >= s.length()) {
        throw fail("unexpected end");
      }
      char c = s.charAt(pos);
      switch (c) {
        case '{':
          return readObject();
        case '[':
          return readArray();
        case '"':
          return readString();
        case 't':
          expectWord("true");
          return Boolean.TRUE;
        case 'f':
          expectWord("false");
          return Boolean.FALSE;
        case 'n':
          expectWord("null");
          return null;
        default:
          if (c == '-' || (c >= '0' && c <= '9')) {
            return readNumber();
          }
          throw fail("unexpected character " + quote(String.valueOf(c)));
      }
    }

    private void expectWord(String word) throws BadRequest {
      if (!s.startsWith(word, pos)) {
        throw fail("expected " + word);
      }
      pos += word.length();
    }

    private Map<String, Object> readObject() throws BadRequest {
      Map<String, Object> map = new LinkedHashMap<>();
      pos++; // {
      skipSpace();
      if (pos < s.length() && s.charAt(pos) == '}') {
        pos++;
        return map;
      }
      while (true) {
        skipSpace();
        if (pos >= s.length() || s.charAt(pos) != '"') {
          throw fail("expected a key");
        }
        String key = readString();
        skipSpace();
        if (pos >= s.length() || s.charAt(pos) != ':') {
          throw fail("expected ':'");
        }
        pos++;
        if (map.containsKey(key)) {
          throw fail("duplicate key " + key);
        }
        map.put(key, readValue());
        skipSpace();
        if (pos >= s.length()) {
          throw fail("unterminated object");
        }
        char c = s.charAt(pos++);
        if (c == '}') {
          return map;
        }
        if (c != ',') {
          throw fail("expected ',' or '}'");
        }
      }
    }

    private List<Object> readArray() throws BadRequest {
      List<Object> list = new ArrayList<>();
      pos++; // [
      skipSpace();
      if (pos < s.length() && s.charAt(pos) == ']') {
        pos++;
        return list;
      }
      while (true) {
        list.add(readValue());
        skipSpace();
        if (pos >= s.length()) {
          throw fail("unterminated array");
        }
        char c = s.charAt(pos++);
        if (c == ']') {
          return list;
        }
        if (c != ',') {
          throw fail("expected ',' or ']'");
        }
      }
    }

    private String readString() throws BadRequest {
      pos++; // opening quote
      StringBuilder sb = new StringBuilder();
      while (true) {
        if (pos >= s.length()) {
          throw fail("unterminated string");
        }
        char c = s.charAt(pos++);
        if (c == '"') {
          return sb.toString();
        }
        if (c < 0x20) {
          throw fail("raw control character in string");
        }
        if (c != '\\') {
          sb.append(c);
          continue;
        }
        if (pos >= s.length()) {
          throw fail("unterminated escape");
        }
        char e = s.charAt(pos++);
        switch (e) {
          case '"':
          case '\\':
          case '/':
            sb.append(e);
            break;
          case 'b':
            sb.append('\b');
            break;
          case 'f':
            sb.append('\f');
            break;
          case 'n':
            sb.append('\n');
            break;
          case 'r':
            sb.append('\r');
            break;
          case 't':
            sb.append('\t');
            break;
          case 'u':
            if (pos + 4 > s.length()) {
              throw fail("short unicode escape");
            }
            int code = 0;
            for (int k = 0; k < 4; k++) {
              int d = Character.digit(s.charAt(pos + k), 16);
              if (d < 0) {
                throw fail("bad unicode escape");
              }
              code = code * 16 + d;
            }
            pos += 4;
            sb.append((char) code); // surrogate pairs arrive as two escapes
            break;
          default:
            throw fail("bad escape \\" + e);
        }
      }
    }

    private Long readNumber() throws BadRequest {
      int start = pos;
      if (s.charAt(pos) == '-') {
        pos++;
      }
      while (pos < s.length() && s.charAt(pos) >= '0' && s.charAt(pos) <= '9') {
        pos++;
      }
      if (pos < s.length() && ".eE".indexOf(s.charAt(pos)) >= 0) {
        throw fail("only integers are accepted");
      }
      try {
        return Long.parseLong(s.substring(start, pos));
      } catch (NumberFormatException e) {
        throw fail("bad number");
      }
    }
  }
}
