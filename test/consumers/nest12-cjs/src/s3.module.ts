import { S3Client } from '@aws-sdk/client-s3';
import { Global, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';

// The application's S3 client. Global, so the lock module's factory (and any service) can inject it.
// Credentials come from the SDK's usual chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a role...).
@Global()
@Module({
  providers: [
    {
      provide: S3Client,
      inject: [ConfigService],
      useFactory: (config: ConfigService) =>
        new S3Client({
          region: config.get<string>('AWS_REGION', 'us-east-1'),
          endpoint: config.get<string>('S3_ENDPOINT'), // unset for Amazon S3
          forcePathStyle: config.get<string>('S3_FORCE_PATH_STYLE') === 'true', // MinIO, Ceph RGW...
        }),
    },
  ],
  exports: [S3Client],
})
export class S3Module {}
