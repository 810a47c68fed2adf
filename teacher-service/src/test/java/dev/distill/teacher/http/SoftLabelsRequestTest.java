package dev.distill.teacher.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

/** The soft-labels request seam: JSON in, a validated typed request or a 400 naming the field. */
class SoftLabelsRequestTest {
  // vocabulary 4, k 2, T 1, at most 9 tokens; encode maps each char c to c % 4
  final GatedTeacher teacher = new GatedTeacher(new CountDownLatch(0));

  static JsonObject json(String s) {
    return JsonParser.parseString(s).getAsJsonObject();
  }

  SoftLabelsRequest parse(String body, int maxK) throws ApiError {
    return SoftLabelsRequest.parse(json(body), teacher, maxK);
  }

  @Test
  void textIsEncodedByTheTeacherAndKDefaultsToTheTeachersK() throws ApiError {
    SoftLabelsRequest r = parse("{\"text\":\"abcd\"}", 64);
    assertThat(r.tokens()).containsExactly('a' % 4, 'b' % 4, 'c' % 4, 'd' % 4);
    assertThat(r.k()).isEqualTo(2);
  }

  @Test
  void tokensAreTakenAsGivenWithAKWithinBothLimits() throws ApiError {
    SoftLabelsRequest r = parse("{\"tokens\":[3,0,1],\"k\":1,\"temperature\":1.0}", 64);
    assertThat(r.tokens()).containsExactly(3, 0, 1);
    assertThat(r.k()).isEqualTo(1);
  }

  @Test
  void eachInvalidFieldIs400NamingIt() {
    String[][] cases = {
      {"{\"text\":\"abc\",\"k\":3}", "k must be in [1, 2], got 3"},
      {"{\"text\":\"abc\",\"k\":0}", "k must be in [1, 2]"},
      {"{\"text\":\"abc\",\"k\":1.5}", "k must be an integer"},
      {"{\"text\":\"abc\",\"temperature\":2}", "labels at temperature 1.0 only"},
      {"{\"text\":\"abc\",\"tokens\":[1,2]}", "exactly one of text and tokens"},
      {"{}", "exactly one of text and tokens"},
      {"{\"text\":5}", "text must be a string"},
      {"{\"tokens\":\"12\"}", "tokens must be an array"},
      {"{\"tokens\":[1,\"x\"]}", "tokens[1] is not an integer"},
      {"{\"tokens\":[1,4]}", "tokens[1] = 4 outside [0, 4)"},
      {"{\"tokens\":[1]}", "sequence has 1 tokens; the teacher labels 2 to 9"},
      {"{\"text\":\"abcdefghij\"}", "sequence has 10 tokens"},
    };
    for (String[] c : cases) {
      assertThatThrownBy(() -> parse(c[0], 64))
          .as(c[0])
          .isInstanceOfSatisfying(ApiError.class, e -> assertThat(e.status).isEqualTo(400))
          .hasMessageContaining(c[1]);
    }
  }

  @Test
  void theServersMaxKCapsKBelowTheTeachersK() {
    assertThatThrownBy(() -> parse("{\"text\":\"abc\",\"k\":2}", 1))
        .hasMessageContaining("k must be in [1, 1], got 2");
  }
}
