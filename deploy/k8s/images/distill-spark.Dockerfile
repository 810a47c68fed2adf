# ghcr.io/distill/distill-spark:<version>: Spark 4.2.0 (Scala 2.13, Java 17) plus
#  - /opt/distill/spark-jobs-app.jar: the spark-submit application jar (no Spark, Hadoop, Scala);
#  - /opt/distill/trainer-lib/: student-trainer and its DJL jars, for `distill train --spark`
#    (BarrierTrainJob loads the trainer through ServiceLoader from spark.{driver,executor}.extraClassPath;
#    spark-jobs itself never depends on DJL, see deploy/README.md).
# Build from the repository root after `mvn package`:
#   docker build -f deploy/k8s/images/distill-spark.Dockerfile --build-arg VERSION=0.1.0-SNAPSHOT \
#     -t ghcr.io/distill/distill-spark:0.1.0-SNAPSHOT .
FROM apache/spark:4.2.0-scala2.13-java17-ubuntu
ARG VERSION
USER root
COPY spark-jobs/target/spark-jobs-${VERSION}-app.jar /opt/distill/spark-jobs-app.jar
ADD deploy/target/distill-${VERSION}.tar.gz /tmp/dist/
# Only what the trainer needs beyond Spark: our model/trainer modules and DJL with its CPU libtorch.
RUN mkdir -p /opt/distill/trainer-lib && cd /tmp/dist/distill-${VERSION}/lib \
 && cp schemas-*.jar models-*.jar student-trainer-*.jar api-0.*.jar pytorch-*.jar jna-*.jar \
       gson-*.jar commons-compress-*.jar /opt/distill/trainer-lib/ \
 && rm -rf /tmp/dist
ENV DJL_OFFLINE=true
USER spark
