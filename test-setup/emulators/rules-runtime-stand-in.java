// Permissive stand-in for firebase-tools' Cloud Storage rules runtime JAR (a download that is impossible offline).
// firebase-tools 14 spawns `java -jar <jar> serve` and speaks one JSON object per line over stdin/stdout: the
// runtime announces itself with id -1, then answers `load_ruleset` (with a rules version) and `verify` (with
// permit) requests by id. Rules are NOT evaluated: every ruleset loads and every check is permitted. The emulator's
// JSON API, which the Google Cloud client libraries use, never consults rules anyway.
import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

final class RulesRuntimeStandIn {
  // JSON.stringify puts the request id last ({...,"id":N}); the rules source may itself contain "id":.
  private static final Pattern ID = Pattern.compile("\"id\":(-?\\d+)\\}\\s*$");

  public static void main(String[] args) throws IOException {
    // One println per reply, flushed at once: firebase-tools parses each stdout chunk as a single JSON object.
    PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
    out.println("{\"id\":-1,\"status\":\"ok\"}");
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    for (String line; (line = in.readLine()) != null; ) {
      Matcher m = ID.matcher(line);
      if (!m.find()) continue;
      String result = line.contains("\"action\":\"load_ruleset\"") ? "{\"rulesVersion\":2}" : "{\"permit\":true}";
      out.println("{\"id\":" + m.group(1) + ",\"status\":\"ok\",\"errors\":[],\"warnings\":[],\"result\":" + result + "}");
    }
  }
}
