package dev.distill.models.hf;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * The safetensors format (Hugging Face): an 8-byte little-endian header length, a JSON header
 * ({@code dtype}, {@code shape}, {@code data_offsets} per tensor, optional {@code __metadata__}),
 * then the raw little-endian bytes. Both directions are ours: DJL 0.35.1 has a reader ({@code
 * NDList.decode}), but it aborts the JVM on a BF16 file ("terminate called without an active
 * exception", seen on the Llama fixture). Writing is float32 only, with {@code __metadata__
 * {"format": "pt"}} and the header padded with spaces to 8 bytes as the safetensors library writes
 * it.
 */
public final class SafeTensors {

  private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().create();

  private SafeTensors() {}

  /** A float32 tensor to write. */
  public record Tensor(long[] shape, float[] values) {
    public Tensor {
      long n = 1;
      for (long d : shape) {
        n *= d;
      }
      if (n != values.length) {
        throw new IllegalArgumentException("shape holds " + n + " values, got " + values.length);
      }
    }
  }

  /**
   * Every tensor of {@code file} as float32 values by name (F32, F16, BF16 converted exactly; I64,
   * I32 as their values), with its shape.
   *
   * @throws IOException naming the file when it is not a safetensors file, or a tensor's dtype or
   *     extent is not readable
   */
  public static Map<String, Tensor> read(Path file) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = ch.size();
      ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      readFully(ch, lenBuf, 0, file);
      long headerLen = lenBuf.getLong(0);
      if (headerLen <= 0 || 8 + headerLen > size || headerLen > 100_000_000) {
        throw new IOException(file + ": not a safetensors file (header length " + headerLen + ")");
      }
      ByteBuffer headerBuf = ByteBuffer.allocate((int) headerLen);
      readFully(ch, headerBuf, 8, file);
      JsonObject header;
      try {
        header =
            JsonParser.parseString(new String(headerBuf.array(), StandardCharsets.UTF_8))
                .getAsJsonObject();
      } catch (RuntimeException e) {
        throw new IOException(file + ": not a safetensors file (header is not JSON)", e);
      }
      long dataStart = 8 + headerLen;
      Map<String, Tensor> out = new LinkedHashMap<>();
      for (Map.Entry<String, JsonElement> e : header.entrySet()) {
        if (e.getKey().equals("__metadata__")) {
          continue;
        }
        out.put(e.getKey(), tensor(ch, file, e.getKey(), e.getValue(), dataStart, size));
      }
      return out;
    }
  }

  private static Tensor tensor(
      FileChannel ch, Path file, String name, JsonElement spec, long dataStart, long size)
      throws IOException {
    String dtype;
    long[] shape;
    long begin;
    long end;
    try {
      JsonObject o = spec.getAsJsonObject();
      dtype = o.get("dtype").getAsString();
      JsonArray s = o.getAsJsonArray("shape");
      shape = new long[s.size()];
      for (int i = 0; i < shape.length; i++) {
        shape[i] = s.get(i).getAsLong();
      }
      JsonArray off = o.getAsJsonArray("data_offsets");
      begin = off.get(0).getAsLong();
      end = off.get(1).getAsLong();
    } catch (RuntimeException e) {
      throw new IOException(file + ": tensor " + name + " has no dtype/shape/data_offsets", e);
    }
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    int width =
        switch (dtype) {
          case "F32", "I32" -> 4;
          case "F16", "BF16" -> 2;
          case "I64" -> 8;
          default ->
              throw new IOException(
                  file
                      + ": tensor "
                      + name
                      + " has dtype "
                      + dtype
                      + " (F32, F16, BF16, I64, I32 read)");
        };
    if (end - begin != n * width || begin < 0 || dataStart + end > size || n > Integer.MAX_VALUE) {
      throw new IOException(
          file + ": tensor " + name + " data_offsets [" + begin + ", " + end + ") do not fit");
    }
    ByteBuffer buf = ByteBuffer.allocate((int) (end - begin)).order(ByteOrder.LITTLE_ENDIAN);
    readFully(ch, buf, dataStart + begin, file);
    buf.flip();
    float[] v = new float[(int) n];
    for (int i = 0; i < v.length; i++) {
      v[i] =
          switch (dtype) {
            case "F32" -> buf.getFloat();
            case "BF16" -> Float.intBitsToFloat((buf.getShort() & 0xffff) << 16);
            case "F16" -> halfToFloat(buf.getShort());
            case "I64" -> (float) buf.getLong();
            default -> (float) buf.getInt();
          };
    }
    return new Tensor(shape, v);
  }

  private static void readFully(FileChannel ch, ByteBuffer buf, long pos, Path file)
      throws IOException {
    while (buf.hasRemaining()) {
      int r = ch.read(buf, pos + buf.position());
      if (r < 0) {
        throw new IOException(file + ": truncated safetensors file");
      }
    }
  }

  /** IEEE 754 binary16 to float32 (exact: every half is a float). */
  static float halfToFloat(short h) {
    int bits = h & 0xffff;
    int sign = (bits & 0x8000) << 16;
    int exp = (bits >>> 10) & 0x1f;
    int mant = bits & 0x3ff;
    if (exp == 0x1f) {
      return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
    }
    if (exp == 0) {
      if (mant == 0) {
        return Float.intBitsToFloat(sign);
      }
      // subnormal half: mant * 2^-24
      float f = mant * 0x1p-24f;
      return sign == 0 ? f : -f;
    }
    return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
  }

  /** Writes {@code tensors} (sorted by name) as float32 to {@code file}. */
  public static void write(Path file, Map<String, Tensor> tensors) throws IOException {
    Map<String, Tensor> sorted = new TreeMap<>(tensors);
    JsonObject header = new JsonObject();
    JsonObject meta = new JsonObject();
    meta.addProperty("format", "pt");
    header.add("__metadata__", meta);
    long offset = 0;
    for (Map.Entry<String, Tensor> e : sorted.entrySet()) {
      JsonObject t = new JsonObject();
      t.addProperty("dtype", "F32");
      JsonArray shape = new JsonArray();
      for (long d : e.getValue().shape()) {
        shape.add(d);
      }
      t.add("shape", shape);
      JsonArray offsets = new JsonArray();
      long bytes = 4L * e.getValue().values().length;
      offsets.add(offset);
      offsets.add(offset + bytes);
      t.add("data_offsets", offsets);
      header.add(e.getKey(), t);
      offset += bytes;
    }
    StringBuilder json = new StringBuilder(GSON.toJson(header));
    while (json.toString().getBytes(StandardCharsets.UTF_8).length % 8 != 0) {
      json.append(' ');
    }
    byte[] headerBytes = json.toString().getBytes(StandardCharsets.UTF_8);
    try (OutputStream os = new BufferedOutputStream(Files.newOutputStream(file), 1 << 16)) {
      ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      len.putLong(headerBytes.length);
      os.write(len.array());
      os.write(headerBytes);
      for (Tensor t : sorted.values()) {
        ByteBuffer buf = ByteBuffer.allocate(4 * t.values().length).order(ByteOrder.LITTLE_ENDIAN);
        buf.asFloatBuffer().put(t.values());
        os.write(buf.array());
      }
    }
  }
}
