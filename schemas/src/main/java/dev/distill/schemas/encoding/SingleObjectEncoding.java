package dev.distill.schemas.encoding;

import dev.distill.schemas.avro.CuratedExample;
import dev.distill.schemas.avro.Prompt;
import dev.distill.schemas.avro.TeacherOutput;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import org.apache.avro.Schema;
import org.apache.avro.message.BadHeaderException;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.avro.message.MissingSchemaException;
import org.apache.avro.specific.SpecificData;

/**
 * Avro single-object encoding for the Kafka topics: {@code C3 01}, the 8-byte CRC-64-AVRO
 * fingerprint of the writer schema, then the Avro binary body. A reader knows only the schemas
 * compiled into it; an unknown fingerprint is an error, never a guess.
 */
public final class SingleObjectEncoding {
  private static final Codec<TeacherOutput> OUTPUT = Codec.of(TeacherOutput.getClassSchema());
  private static final Codec<Prompt> PROMPT = Codec.of(Prompt.getClassSchema());
  private static final Codec<CuratedExample> CURATED = Codec.of(CuratedExample.getClassSchema());

  /** The encoder and decoder of one compiled-in schema. */
  private record Codec<T>(BinaryMessageEncoder<T> encoder, BinaryMessageDecoder<T> decoder) {
    static <T> Codec<T> of(Schema schema) {
      return new Codec<>(
          new BinaryMessageEncoder<>(SpecificData.get(), schema),
          new BinaryMessageDecoder<>(SpecificData.get(), schema));
    }
  }

  private SingleObjectEncoding() {}

  public static byte[] encode(TeacherOutput record) {
    return toBytes(() -> OUTPUT.encoder().encode(record));
  }

  public static byte[] encode(Prompt record) {
    return toBytes(() -> PROMPT.encoder().encode(record));
  }

  public static byte[] encode(CuratedExample record) {
    return toBytes(() -> CURATED.encoder().encode(record));
  }

  public static TeacherOutput decodeTeacherOutput(byte[] bytes) {
    return decode(OUTPUT.decoder(), bytes);
  }

  public static Prompt decodePrompt(byte[] bytes) {
    return decode(PROMPT.decoder(), bytes);
  }

  public static CuratedExample decodeCuratedExample(byte[] bytes) {
    return decode(CURATED.decoder(), bytes);
  }

  private interface Encoding {
    ByteBuffer run() throws IOException;
  }

  private static byte[] toBytes(Encoding encoding) {
    try {
      ByteBuffer buf = encoding.run();
      byte[] out = new byte[buf.remaining()];
      buf.get(out);
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static <T> T decode(BinaryMessageDecoder<T> decoder, byte[] bytes) {
    if (bytes == null) {
      throw new RecordDecodingException(
          RecordDecodingException.Kind.NOT_SINGLE_OBJECT_ENCODING, "null message", null);
    }
    try {
      return decoder.decode(bytes);
    } catch (MissingSchemaException e) {
      throw new RecordDecodingException(
          RecordDecodingException.Kind.UNKNOWN_SCHEMA_FINGERPRINT, e.getMessage(), e);
    } catch (BadHeaderException e) {
      throw new RecordDecodingException(
          RecordDecodingException.Kind.NOT_SINGLE_OBJECT_ENCODING, e.getMessage(), e);
    } catch (IOException | RuntimeException e) {
      throw new RecordDecodingException(
          RecordDecodingException.Kind.CORRUPT_BODY, String.valueOf(e.getMessage()), e);
    }
  }
}
